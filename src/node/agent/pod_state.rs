//! What the agent keeps of each pod between reconciles ([`PodRt`]): its containers
//! ([`ContRt`]) with their current instance, hooks in progress, restart counts and last
//! states, and how that state is recovered from a pod's status after an engine restart.

use super::addresses::PodAddress;
use super::container_probes::ProbeRt;
use crate::api::{Container, ContainerStateTerminated, Pod, PodStatus, Time};
use crate::node::logs::LogBuffer;
use crate::node::probe::ProbeTarget;
use crate::node::runtime::{ExitStatus, RunningContainer};
use parking_lot::Mutex;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// What the agent knows of one pod.
pub(super) struct PodRt {
    pub(super) uid: String,
    pub(super) node: String,
    /// The pod's own loopback address (`status.podIP`, `POD_IP`), held in the engine's
    /// block for as long as this state lives.
    pub(super) address: PodAddress,
    pub(super) init: Vec<ContRt>,
    pub(super) containers: Vec<ContRt>,
    /// Index of the init container running or next to run; `init.len()` when done.
    pub(super) init_done: usize,
    pub(super) start_time: Option<Time>,
    /// Set when the pod's containers are being stopped for deletion or a deadline.
    pub(super) stopping: Option<Stopping>,
    /// Grace period of this pod (for engine shutdown).
    pub(super) grace: Duration,
    /// The pod failed for good (deadline exceeded, init failure with restartPolicy Never).
    pub(super) failed: Option<(String, String)>,
}

pub(super) struct Stopping {
    pub(super) kill_at: Duration,
    pub(super) killed: bool,
}

/// One container of a pod, across its instances.
pub(super) struct ContRt {
    pub(super) spec: Container,
    pub(super) current: Option<Instance>,
    pub(super) restart_count: i32,
    /// `lastState.terminated`.
    pub(super) last_terminated: Option<ContainerStateTerminated>,
    /// The state after the last exit when the container will not run again.
    pub(super) final_state: Option<ContainerStateTerminated>,
    pub(super) waiting: Option<(String, String)>,
    /// Next crash-loop delay.
    pub(super) backoff: Duration,
    /// Do not start before this monotonic time.
    pub(super) not_before: Option<Duration>,
    pub(super) log: Option<Arc<LogBuffer>>,
    pub(super) previous_log: Option<Arc<LogBuffer>>,
    pub(super) env: Vec<(String, String)>,
    pub(super) working_dir: Option<PathBuf>,
}

/// One started instance of a container.
pub(super) struct Instance {
    pub(super) handle: Box<dyn RunningContainer>,
    /// Filled once by the exit notifier.
    pub(super) exit: Arc<Mutex<Option<ExitStatus>>>,
    pub(super) started_at: Time,
    pub(super) started_mono: Duration,
    pub(super) probes: Vec<ProbeRt>,
    /// The startup probe passed (or there is none).
    pub(super) started: bool,
    pub(super) ready: bool,
    /// Stopped because a probe failed: the reason for the restart.
    pub(super) stopping_for: Option<String>,
    /// Runs in a mount namespace of its own (volumes at their mountPath).
    pub(super) private_mounts: bool,
    pub(super) kill_at: Option<Duration>,
    /// The postStart hook while it runs: no probes, not started, not ready until it returns.
    pub(super) post_start: Option<Hook>,
    /// The preStop hook while it runs; the stop signal follows it.
    pub(super) pre_stop: Option<Hook>,
    /// The stop signal was sent (after the preStop hook, if any): the hook never runs twice.
    pub(super) term_sent: bool,
}

/// What an exec or httpGet probe or hook of `container` (its resolved environment and working
/// directory, in the pod at `ip`) runs against; exec enters the mount namespace of process
/// `mount_namespace_of` (the container's, when it has one of its own).
pub(super) fn probe_target(
    container: &Container,
    env: &[(String, String)],
    working_dir: &Option<PathBuf>,
    ip: &str,
    mount_namespace_of: Option<u32>,
) -> ProbeTarget {
    ProbeTarget {
        container: container.clone(),
        env: env.to_vec(),
        working_dir: working_dir.clone(),
        host: ip.to_string(),
        mount_namespace_of,
    }
}

/// A lifecycle hook in progress.
pub(super) enum Hook {
    /// `exec` or `httpGet`, on a thread of its own, which leaves its outcome here.
    Running(ProbeSlot),
    /// `sleep`: done at this monotonic time (the engine clock).
    Sleeping(Duration),
}

impl Hook {
    /// The outcome, once the hook is done.
    pub(super) fn poll(&self, now: Duration) -> Option<Result<(), String>> {
        match self {
            Hook::Running(slot) => slot.lock().take(),
            Hook::Sleeping(until) => (now >= *until).then_some(Ok(())),
        }
    }
}

/// The longest an `exec` or `httpGet` postStart hook may run before it counts as failed
/// (Kubernetes sets none; a hook that never returns would hold its container for good).
pub(super) const POST_START_TIMEOUT: Duration = Duration::from_secs(600);

/// Where a probe thread leaves its outcome.
pub(super) type ProbeSlot = Arc<Mutex<Option<Result<(), String>>>>;

impl ContRt {
    pub(super) fn new(spec: &Container) -> Self {
        ContRt {
            spec: spec.clone(),
            current: None,
            restart_count: 0,
            last_terminated: None,
            final_state: None,
            waiting: Some(("ContainerCreating".into(), String::new())),
            backoff: Duration::ZERO,
            not_before: None,
            log: None,
            previous_log: None,
            env: Vec::new(),
            working_dir: None,
        }
    }

    pub(super) fn running(&self) -> bool {
        self.current
            .as_ref()
            .is_some_and(|i| i.exit.lock().is_none())
    }
}

impl PodRt {
    pub(super) fn new(pod: &Pod, node: &str, address: PodAddress) -> Self {
        PodRt {
            uid: pod.metadata.uid.clone().unwrap_or_default(),
            node: node.to_string(),
            address,
            init: pod.spec.init_containers.iter().map(ContRt::new).collect(),
            containers: pod.spec.containers.iter().map(ContRt::new).collect(),
            init_done: 0,
            start_time: None,
            stopping: None,
            grace: Duration::from_secs(
                pod.spec
                    .termination_grace_period_seconds
                    .unwrap_or(30)
                    .max(0) as u64,
            ),
            failed: None,
        }
    }

    /// Takes in what `pod`'s stored status says of containers that ran before this engine
    /// started (the engine restarted on a durable data dir), as the kubelet does after a
    /// node reboot. A pod that had finished stays finished: its containers' final states
    /// are kept and nothing runs again. Otherwise each container that had started counts a
    /// restart and keeps a `lastState` saying why. Whatever of a process pod the previous
    /// engine left running (its control groups, processes carrying its `POD_UID`, their
    /// process groups: see [`crate::node::orphans`]) is killed first, so nothing runs twice.
    /// True when the pod had run before.
    pub(super) fn recover(&mut self, pod: &Pod) -> bool {
        let Some(status) = pod.status.as_ref() else {
            return false;
        };
        if status.container_statuses.is_empty() && status.init_container_statuses.is_empty() {
            return false;
        }
        #[cfg(target_os = "linux")]
        self.kill_left_behind(status);
        let finished = matches!(status.phase.as_deref(), Some("Succeeded" | "Failed"));
        let pairs = self
            .init
            .iter_mut()
            .zip(&status.init_container_statuses)
            .chain(self.containers.iter_mut().zip(&status.container_statuses));
        for (c, stored) in pairs {
            if stored.name != c.spec.name {
                continue;
            }
            let state = stored.state.as_ref();
            let terminated = state.and_then(|s| s.terminated.as_deref().cloned());
            if finished {
                c.restart_count = stored.restart_count;
                c.final_state = terminated.or_else(|| {
                    Some(ContainerStateTerminated {
                        exit_code: 0,
                        reason: Some("Completed".into()),
                        ..Default::default()
                    })
                });
                c.waiting = None;
                continue;
            }
            let ran = state.is_some_and(|s| s.running.is_some() || s.terminated.is_some())
                || stored.restart_count > 0;
            if ran {
                c.restart_count = stored.restart_count + 1;
                c.last_terminated = Some(ContainerStateTerminated {
                    exit_code: 255,
                    reason: Some("Unknown".into()),
                    message: Some(
                        "The container could not be located when the engine restarted".into(),
                    ),
                    started_at: state
                        .and_then(|s| s.running.as_ref())
                        .and_then(|r| r.started_at),
                    ..Default::default()
                });
            }
        }
        if finished {
            self.init_done = self.init.len();
            if status.phase.as_deref() == Some("Failed")
                && self.containers.iter().all(|c| c.final_state.is_none())
            {
                self.failed = Some((
                    status.reason.clone().unwrap_or_else(|| "Failed".into()),
                    status.message.clone().unwrap_or_default(),
                ));
            }
        }
        true
    }

    /// Kills what the previous engine left running of this pod, when it ran as processes
    /// (a `process://<pid>` container id in `status`): the cost of a scan of /proc is paid
    /// by process pods only.
    #[cfg(target_os = "linux")]
    fn kill_left_behind(&self, status: &PodStatus) {
        let groups: Vec<i32> = status
            .init_container_statuses
            .iter()
            .chain(&status.container_statuses)
            .filter_map(|c| c.container_id.as_deref()?.strip_prefix("process://"))
            .filter_map(|pid| pid.parse().ok())
            .collect();
        if groups.is_empty() {
            return;
        }
        let names: Vec<&str> = self
            .all_containers()
            .map(|c| c.spec.name.as_str())
            .collect();
        crate::node::orphans::kill_left_behind(&self.uid, &names, &groups);
    }

    pub(super) fn all_containers(&self) -> impl Iterator<Item = &ContRt> {
        self.init.iter().chain(self.containers.iter())
    }

    pub(super) fn any_running(&self) -> bool {
        self.all_containers().any(ContRt::running)
    }

    pub(super) fn kill_all(&self) {
        for c in self.all_containers() {
            if let Some(i) = &c.current {
                if i.exit.lock().is_none() {
                    i.handle.kill();
                }
            }
        }
    }
}

/// The handle of a container whose start failed: it is already over.
pub(super) struct NeverStarted;

impl RunningContainer for NeverStarted {
    fn id(&self) -> &str {
        ""
    }
    fn terminate(&self) {}
    fn kill(&self) {}
    fn exit_status(&self) -> Option<ExitStatus> {
        None
    }
}
