//! Probes of a pod's containers: each probe's state ([`ProbeRt`]: period, thresholds,
//! the result so far), running due probes off the reconcile thread, and acting on a failed
//! liveness or startup probe.

use super::pod_state::{probe_target, ContRt, Hook, ProbeSlot};
use super::pod_sync::PodSync;
use crate::api::Probe;
use crate::client::events::EventKind;
use crate::node::probe::{ProbeKind, ProbeResult};
use parking_lot::Mutex;
use std::sync::Arc;
use std::time::Duration;

pub(super) struct ProbeRt {
    pub(super) kind: ProbeKind,
    pub(super) probe: Probe,
    pub(super) period: Duration,
    pub(super) timeout: Duration,
    success_threshold: u32,
    failure_threshold: u32,
    successes: u32,
    failures: u32,
    /// `None` until the thresholds decide.
    result: Option<bool>,
    pub(super) next_due: Duration,
    pub(super) in_flight: Option<ProbeSlot>,
    last_message: Option<String>,
}

pub(super) fn secs(v: Option<i32>, default: i32) -> Duration {
    Duration::from_secs(v.unwrap_or(default).max(0) as u64)
}

impl ProbeRt {
    pub(super) fn new(kind: ProbeKind, probe: &Probe, started: Duration) -> Self {
        ProbeRt {
            kind,
            period: secs(probe.period_seconds, 10).max(Duration::from_secs(1)),
            timeout: secs(probe.timeout_seconds, 1).max(Duration::from_secs(1)),
            success_threshold: probe.success_threshold.unwrap_or(1).max(1) as u32,
            failure_threshold: probe.failure_threshold.unwrap_or(3).max(1) as u32,
            successes: 0,
            failures: 0,
            result: None,
            next_due: started + secs(probe.initial_delay_seconds, 0),
            in_flight: None,
            last_message: None,
            probe: probe.clone(),
        }
    }

    pub(super) fn record(&mut self, outcome: Result<(), String>) {
        match outcome {
            Ok(()) => {
                self.failures = 0;
                self.successes += 1;
                if self.successes >= self.success_threshold {
                    self.result = Some(true);
                }
            }
            Err(msg) => {
                self.successes = 0;
                self.failures += 1;
                self.last_message = Some(msg);
                if self.failures >= self.failure_threshold {
                    self.result = Some(false);
                }
            }
        }
    }
}

impl PodSync<'_> {
    /// Runs due probes of the current instance and acts on their results.
    pub(super) fn probe(&mut self, c: &mut ContRt) {
        let Some(inst) = &mut c.current else { return };
        if inst.exit.lock().is_some() || inst.stopping_for.is_some() {
            if let Some(at) = inst.kill_at {
                if self.now >= at {
                    inst.handle.kill();
                    inst.kill_at = None;
                } else {
                    self.wake_at(at);
                    self.poll_pre_stop(c);
                }
            }
            return;
        }
        // As the kubelet: probes start once the postStart hook returned; a failed hook
        // kills the container (restarted by the pod's policy).
        if let Some(hook) = &inst.post_start {
            match hook.poll(self.now) {
                None => {
                    if let Hook::Sleeping(until) = hook {
                        let until = *until;
                        self.wake_at(until);
                    }
                    return;
                }
                Some(Ok(())) => inst.post_start = None,
                Some(Err(msg)) => {
                    inst.post_start = None;
                    log::info!("pod {}: {msg}", self.key);
                    let events = &self.kubelet.inner.events;
                    let _ =
                        events.record(self.pod, EventKind::Warning, "FailedPostStartHook", &msg);
                    let why = format!("FailedPostStartHook: {msg}");
                    let _ = events.record(self.pod, EventKind::Normal, "Killing", &why);
                    inst.stopping_for = Some(why);
                    let grace = self.pod.spec.termination_grace_period_seconds.unwrap_or(30);
                    let grace = Duration::from_secs(grace.max(0) as u64);
                    if !grace.is_zero() {
                        inst.kill_at = Some(self.now + grace);
                        self.wake_in(grace);
                    }
                    self.stop_container(c, grace);
                    return;
                }
            }
        }
        let health = inst.handle.health();
        let mut fail: Option<(ProbeKind, String)> = None;
        for i in 0..inst.probes.len() {
            let started = inst.started;
            let p = &mut inst.probes[i];
            // The startup probe gates the others; once it passed it stops.
            if p.kind == ProbeKind::Startup && started {
                continue;
            }
            if p.kind != ProbeKind::Startup && !started {
                continue;
            }
            if let Some(false) = p.result {
                if p.kind != ProbeKind::Readiness {
                    fail = Some((
                        p.kind,
                        p.last_message
                            .clone()
                            .unwrap_or_else(|| "probe failed".into()),
                    ));
                }
            }
            if p.kind == ProbeKind::Startup && p.result == Some(true) {
                inst.started = true;
                continue;
            }
            if p.in_flight.is_some() {
                continue;
            }
            if self.now < p.next_due {
                let at = p.next_due;
                self.wake_at(at);
                continue;
            }
            if is_heartbeat(&p.probe) {
                // Heartbeat: the worker must have reported within the last period.
                // The start counts as a beat: a worker gets one period to send its first.
                let last = health
                    .and_then(|h| h.last_heartbeat)
                    .map_or(inst.started_mono, |t| t.max(inst.started_mono));
                let ok = self.now.saturating_sub(last) <= p.period;
                p.record(if ok {
                    Ok(())
                } else {
                    Err(format!("no heartbeat within {}s", p.period.as_secs()))
                });
                p.next_due = self.now + p.period;
                let d = p.period;
                self.wake_in(d);
                if p.kind == ProbeKind::Startup && p.result == Some(true) {
                    inst.started = true;
                }
                if p.result == Some(false) && p.kind != ProbeKind::Readiness {
                    fail = Some((p.kind, p.last_message.clone().unwrap_or_default()));
                }
                continue;
            }
            let Some(prober) = self.kubelet.inner.prober.clone() else {
                p.record(Err("no probe executor is configured".into()));
                continue;
            };
            let slot = Arc::new(Mutex::new(None));
            p.in_flight = Some(slot.clone());
            let target = probe_target(
                &c.spec,
                &c.env,
                &c.working_dir,
                &self.ip,
                inst.private_mounts.then(|| inst.handle.pid()).flatten(),
            );
            let probe = p.probe.clone();
            let timeout = p.timeout;
            let kind = p.kind;
            let panicked = format!("{} probe panicked", kind.as_str());
            let spawned = self.off_thread("steady-probe", &slot, &panicked, move || {
                match prober.run(kind, &probe, &target, timeout) {
                    ProbeResult::Success => Ok(()),
                    ProbeResult::Failure(msg) => Err(msg),
                }
            });
            if spawned.is_err() {
                p.in_flight = None;
                p.next_due = self.now + p.period;
            }
        }
        // Readiness: probe result if there is a readiness probe; else running and started,
        // and for workers, what they reported.
        let readiness = inst.probes.iter().find(|p| p.kind == ProbeKind::Readiness);
        inst.ready = inst.started
            && match readiness {
                Some(p) => p.result == Some(true),
                None => health.is_none_or(|h| h.ready),
            };
        if let Some((kind, msg)) = fail {
            let why = format!(
                "Container {} failed {} probe, will be restarted: {msg}",
                c.spec.name,
                kind.as_str().to_lowercase()
            );
            log::info!("pod {}: {why}", self.key);
            let _ = self
                .kubelet
                .inner
                .events
                .record(self.pod, EventKind::Normal, "Killing", &why);
            inst.stopping_for = Some(why);
            inst.ready = false;
            let grace = inst
                .probes
                .iter()
                .find(|p| p.kind == kind)
                .and_then(|p| p.probe.termination_grace_period_seconds)
                .or(self.pod.spec.termination_grace_period_seconds)
                .unwrap_or(30);
            let grace = Duration::from_secs(grace.max(0) as u64);
            if !grace.is_zero() {
                inst.kill_at = Some(self.now + grace);
                self.wake_in(grace);
            }
            self.stop_container(c, grace);
        }
    }
}

fn is_heartbeat(p: &Probe) -> bool {
    p.heartbeat.is_some()
}
