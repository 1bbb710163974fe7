//! The container runtime interface: how the node agent starts, stops and observes what runs a
//! container.
//!
//! A [`ContainerRuntime`] turns a [`ContainerSpec`] into a [`RunningContainer`]. The agent owns
//! every timing decision (grace periods, crash-loop backoff, probe periods run on the engine
//! clock), so a runtime only does what it is told, at once: start, ask politely to stop
//! ([`RunningContainer::terminate`]), stop by force ([`RunningContainer::kill`]). When a
//! container ends, by itself or because it was stopped, the runtime calls the spec's
//! [`ExitNotifier`] exactly once, from any thread; the agent reacts to that call (it is what
//! makes restarts fast), and never has to poll.

use super::logs::LogBuffer;
use crate::api::Container;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Called exactly once when a started container ends, with how it ended. May be called from
/// any thread, including from inside [`ContainerRuntime::start`] (a container that ends at once).
pub type ExitNotifier = Arc<dyn Fn(ExitStatus) + Send + Sync>;

/// Everything a runtime needs to start one container of one pod.
#[derive(Clone)]
pub struct ContainerSpec {
    /// Namespace of the pod.
    pub namespace: String,
    /// Name of the pod.
    pub pod_name: String,
    /// uid of the pod.
    pub pod_uid: String,
    /// Node the pod runs on.
    pub node_name: String,
    /// The container as the pod declares it.
    pub container: Container,
    /// The environment, resolved: `POD_NAME`, `POD_NAMESPACE`, `NODE_NAME`, `POD_UID`, one
    /// `STEADY_VOLUME_<NAME>` per mounted volume directory, then the container's `envFrom`,
    /// then its `env` (later definitions win), with the kubelet's rules for `valueFrom` and
    /// `$(VAR)` references. May hold Secret values: never log it.
    pub env: Vec<(String, String)>,
    /// Working directory: the container's `workingDir`, else the directory of its first
    /// mounted volume, else inherited.
    pub working_dir: Option<PathBuf>,
    /// Mounted volumes resolved to host directories: (volume name, mountPath, host path).
    pub mounts: Vec<Mount>,
    /// Where the container's output goes (bounded).
    pub log: Arc<LogBuffer>,
    /// Called once when the container ends, on a thread the runtime shares between its
    /// containers (the process runtime's monitor): it must not block.
    pub on_exit: ExitNotifier,
    /// Called when what the container reports about itself changes (a worker turning ready
    /// or not ready), so the agent re-reads [`RunningContainer::health`]. Any thread.
    pub on_change: ChangeNotifier,
}

/// See [`ContainerSpec::on_change`].
pub type ChangeNotifier = Arc<dyn Fn() + Send + Sync>;

impl fmt::Debug for ContainerSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ContainerSpec")
            .field("namespace", &self.namespace)
            .field("pod_name", &self.pod_name)
            .field("container", &self.container.name)
            .field("node_name", &self.node_name)
            .finish()
    }
}

/// A volume mount resolved to a host directory.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mount {
    /// The volume's name in the pod.
    pub volume: String,
    /// The `mountPath` the container declared.
    pub mount_path: String,
    /// The host directory backing it.
    pub host_path: PathBuf,
    /// The `subPath` within the volume mounted instead of its root.
    pub sub_path: Option<String>,
    /// Mounted read-only (`readOnly`).
    pub read_only: bool,
}

/// How a container ended, as `status.containerStatuses[].state.terminated` reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExitStatus {
    /// Exit code (128 + signal for a process killed by a signal, as container runtimes do).
    pub exit_code: i32,
    /// The signal that killed it, if one did.
    pub signal: Option<i32>,
    /// `Completed` for exit code 0, `Error` otherwise, or a runtime-specific reason
    /// (`StartError`, `Panicked`).
    pub reason: String,
    /// A human-readable detail (an OS error, a panic message).
    pub message: Option<String>,
}

impl ExitStatus {
    /// A normal exit with `code`: reason `Completed` for 0, else `Error`.
    pub fn code(code: i32) -> Self {
        ExitStatus {
            exit_code: code,
            signal: None,
            reason: if code == 0 { "Completed" } else { "Error" }.to_string(),
            message: None,
        }
    }

    /// Death by `signal`: exit code 128 + signal, reason `Error`.
    pub fn signaled(signal: i32) -> Self {
        ExitStatus {
            exit_code: 128 + signal,
            signal: Some(signal),
            reason: "Error".to_string(),
            message: None,
        }
    }

    /// A failure with `reason` and `message` and exit code `code`.
    pub fn failed(code: i32, reason: &str, message: impl Into<String>) -> Self {
        ExitStatus {
            exit_code: code,
            signal: None,
            reason: reason.to_string(),
            message: Some(message.into()),
        }
    }

    /// True for exit code 0.
    pub fn success(&self) -> bool {
        self.exit_code == 0
    }
}

/// Why a container could not be started: becomes the container's waiting or terminated
/// state, with `reason` and `message` shown to the user.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{reason}: {message}")]
pub struct StartError {
    /// A CamelCase reason (`StartError`, `InvalidImageName`, `ErrImageNeverPull`...).
    pub reason: String,
    /// What went wrong, with the OS error where there is one.
    pub message: String,
}

impl StartError {
    /// A start error with `reason` and `message`.
    pub fn new(reason: &str, message: impl Into<String>) -> Self {
        StartError {
            reason: reason.to_string(),
            message: message.into(),
        }
    }
}

/// What a worker says about its own health (the Agones `Ready()`/`Health()` pair).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WorkerHealth {
    /// The worker reported ready (and has not withdrawn it).
    pub ready: bool,
    /// Monotonic time (engine clock) of the last heartbeat, if any.
    pub last_heartbeat: Option<Duration>,
}

/// Something that runs containers.
pub trait ContainerRuntime: Send + Sync + 'static {
    /// A short name, used in container IDs (`process://...`) and messages.
    fn name(&self) -> &str;

    /// Whether this runtime runs `container`. The agent asks its runtimes in order and uses
    /// the first that says yes.
    fn handles(&self, container: &Container) -> bool;

    /// Starts the container. Returns once it has been started (not once it is ready); an
    /// error means nothing was started and `on_exit` will not be called.
    fn start(&self, spec: ContainerSpec) -> Result<Box<dyn RunningContainer>, StartError>;

    /// Whether the containers this runtime starts see each volume at its `mountPath`
    /// (the process runtime with a private mount namespace), rather than only at the
    /// directory `STEADY_VOLUME_<NAME>` names. The agent records which in the pod's events.
    fn mounts_at_mount_path(&self) -> bool {
        false
    }
}

/// A started container, owned by the agent.
pub trait RunningContainer: Send + Sync {
    /// The container ID shown in statuses (`process://4242`, `worker://...`).
    fn id(&self) -> &str;

    /// The OS process ID, for runtimes that have one.
    fn pid(&self) -> Option<u32> {
        None
    }

    /// Asks the container to stop (SIGTERM to the process group; a worker's stop signal).
    /// Returns at once; the exit is reported through the exit notifier.
    fn terminate(&self);

    /// Stops the container by force (SIGKILL to the process group). Returns at once; the
    /// exit is reported through the exit notifier (if it was not already).
    fn kill(&self);

    /// The exit status once the container has ended.
    fn exit_status(&self) -> Option<ExitStatus>;

    /// What the worker reported about itself; `None` for runtimes without self-reporting.
    fn health(&self) -> Option<WorkerHealth> {
        None
    }

    /// CPU time used so far (user + system), for runtimes that can measure it. Used by the
    /// HorizontalPodAutoscaler's resource metrics.
    fn cpu_time(&self) -> Option<Duration> {
        None
    }

    /// Resident memory in bytes, for runtimes that can measure it (`kubectl top`).
    fn memory_bytes(&self) -> Option<u64> {
        None
    }
}
