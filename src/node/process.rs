//! The process runtime: a container's `command` and `args` run as a real OS process.
//!
//! Each container is one process, the leader of a process group of its own, so that
//! [`RunningContainer::terminate`] and [`RunningContainer::kill`] reach everything it started.
//! Its stdin is `/dev/null`; stdout and stderr share one pipe whose reader appends to the
//! container's [`LogBuffer`] (one pipe keeps the two streams in the order they were written,
//! as `kubectl logs` shows them). A waiter learns of the leader's exit, kills what is left of
//! its group (no orphan outlives its leader, as when a container's init process ends), reaps
//! the leader, waits for the output to be drained, and reports the exit.
//!
//! On Linux the reader and the waiter of every process are one thread, the process monitor
//! (`node::procmon`): an epoll loop over the output pipes and the processes' pidfds, so a
//! node running a thousand processes has no thread per process, as the kubelet has none per
//! container. Elsewhere (or on a kernel without `pidfd_open`, before 5.3) each process has a
//! reader thread and a waiter thread of its own. Either way the exit notifier runs on a
//! shared thread and must not block.
//!
//! # Invariants
//!
//! - **No signal to a recycled pid.** A process group is signalled only while the process's
//!   state lock is held and the leader's `Child` is still in it, that is not yet reaped; the
//!   waiter reaps under that same lock. While the leader is unreaped (running, or a zombie) its
//!   pid cannot be reused, and the group id is that pid, so the group signalled is ours.
//! - **Exit seen without reaping.** The waiter (after the pidfd said the process ended, on
//!   Linux) checks with `waitid(P_PID, pid, WEXITED | WNOWAIT)`: it learns of the exit while
//!   the zombie still pins the pid, sends SIGKILL to the group, then reaps. It never calls `waitpid(-1)` and installs no SIGCHLD handler: steady is
//!   embedded in a host that has children of its own.
//! - **Exactly one exit report.** The waiter is the only caller of the exit notifier, once,
//!   after the leader was reaped (no zombie is left) and the output reader reached end of file
//!   (the log is complete) or [`OUTPUT_DRAIN_TIMEOUT`] passed (a descendant that left the group
//!   may hold the pipe open; its later output still lands in the log).
//! - **Dropping a handle** ([`ProcessContainer`]) stops nothing: the waiter still reaps the
//!   process and reports its exit. Dropping the [`ProcessRuntime`] (or calling
//!   [`ProcessRuntime::shutdown`]) kills every process group it started and still runs.
//!
//! # No process outlives its engine
//!
//! Exactly what is promised, and what is not:
//!
//! - **A graceful stop** (engine shutdown or drop; `steady run` on Ctrl-C, SIGTERM or the end
//!   of `--for`) stops every container's process group (its stop signal, then SIGKILL) and
//!   kills whatever group is left ([`ProcessRuntime::shutdown`]), on every unix.
//! - **An engine that dies** (SIGKILL, a crash, an abort) takes every process this runtime
//!   started with it, on Linux: containers, exec probes and exec hooks alike get SIGKILL from
//!   the kernel at once. Each is started with `PR_SET_PDEATHSIG` = SIGKILL, and from one
//!   spawner thread that lives as long as the process (the signal follows the death of the
//!   starting *thread*, and the agent's threads come and go); a child whose engine died
//!   between its clone and `prctl` exits before exec. Starts are serialized on that thread,
//!   which adds one thread hand-off to each; each is a `clone(CLONE_VM | CLONE_VFORK)` as
//!   `posix_spawn` makes, not a fork, so its cost does not grow with the host's memory (see
//!   `node::spawner`).
//! - **What those processes started** (a shell's background job, a server's workers) does not
//!   inherit that tie and survives its parent. When an engine starts again on the same data
//!   dir, it kills it before it starts the pod again: everything in the pod's control groups
//!   of the dead engine, every process carrying the pod's `POD_UID`, and the process groups
//!   of those and of the container processes the pod's status recorded.
//! - **Not covered:** a setuid or setgid program, or one with file capabilities, loses the tie
//!   at exec (the kernel clears `PDEATHSIG`), so it outlives a killed engine until the next
//!   start on the data dir; unix systems other than Linux have no `PDEATHSIG` and no clean-up
//!   at the next start; an engine without a data dir has no next start that knows its pods,
//!   so what its processes started outlives it; and a descendant that left its control group
//!   (or ran without one) and dropped `POD_UID` from its environment is not found.
//!
//! # Environment
//!
//! The process gets exactly the spec's `env` (the agent resolved it: `POD_NAME`,
//! `POD_NAMESPACE`, `NODE_NAME`, ..., then the declared `env`), plus the host's
//! [`PASSTHROUGH_ENV`] variables the spec does not set. Nothing else of the host's
//! environment is inherited: like a container, a process sees what its pod declares (the
//! host's credentials in environment variables do not leak into it), and the few variables
//! passed through stand in for what an image would provide, so that commands are found on the
//! host's `PATH` and locale, home and temporary-directory aware tools behave.
//! `$(VAR)` references in `command` and `args` are expanded from that environment as
//! Kubernetes does ([`expand_var_refs`]).
//!
//! # Volumes
//!
//! When the runtime may (Linux, root: [`super::mount_ns::available`]) and was not told
//! otherwise ([`ProcessRuntime::with_mount_namespaces`]), a process with volume mounts
//! starts in a private mount namespace with each volume bind-mounted at its `mountPath`
//! ([`super::mount_ns`]). The volumes are at `STEADY_VOLUME_<NAME>` in either case.
//!
//! # What the host must not do
//!
//! Reap children it did not start (`waitpid(-1)`, SIGCHLD set to `SIG_IGN` or
//! `SA_NOCLDWAIT`). If it does, the waiter cannot see the exit status and reports exit code
//! 255 with reason `ContainerStatusUnknown`. A descendant that leaves the process group
//! (`setsid`, `setpgid`) is out of reach, as it would be for any supervisor without cgroups.

#[cfg(target_os = "linux")]
use super::cgroups::{Cgroup, Cgroups, Limits};
use super::images::ImageTable;
use super::logs::LogBuffer;
use super::runtime::{
    ContainerRuntime, ContainerSpec, ExitNotifier, ExitStatus, RunningContainer, StartError,
};
use super::spawner::Child;
use crate::api::Container;
use crossbeam_channel::{Receiver, Sender};
use parking_lot::{Condvar, Mutex};
use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Host environment variables a process inherits unless its spec sets them.
pub const PASSTHROUGH_ENV: &[&str] = &["PATH", "HOME", "LANG", "TERM", "USER", "TMPDIR"];

/// How long the exit report waits, after the leader was reaped, for the output reader to reach
/// end of file. Normally it does at once (the whole group was killed); a descendant that left
/// the group and holds the pipe would otherwise delay the report forever.
pub const OUTPUT_DRAIN_TIMEOUT: Duration = Duration::from_millis(200);

/// How long dropping a [`ProcessRuntime`] waits for its killed processes to be reaped.
pub const DROP_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(2);

/// The reason of a container that could not be started, as Kubernetes reports it.
const START_ERROR: &str = "StartError";
/// Bytes read from the output pipe at a time.
const READ_CHUNK: usize = 16 * 1024;
/// Stack of the output reader (its buffer is on the heap).
const READER_STACK: usize = 64 * 1024;
/// Stack of the waiter, which also runs the exit notifier: keep the notifier light.
const WAITER_STACK: usize = 256 * 1024;

/// Runs containers that have a `command` as OS processes. See the [module docs](self).
///
/// Dropping it kills every process it started that still runs (waiting up to
/// [`DROP_SHUTDOWN_TIMEOUT`] for them to be reaped).
pub struct ProcessRuntime {
    registry: Arc<Registry>,
    /// Volumes are bind-mounted at their mountPath in a private mount namespace
    /// ([`super::mount_ns`]).
    mount_namespaces: bool,
    /// The mount points this runtime created on the host.
    mount_points: Arc<super::mount_ns::MountPoints>,
    /// What image references run ([`super::images`]).
    images: Arc<ImageTable>,
    /// Whether containers get control groups ([`ProcessRuntime::with_cgroups`]).
    #[cfg(target_os = "linux")]
    use_cgroups: bool,
    /// The host's control groups for limits and usage, or the reason there are none: found
    /// when the first container starts, so an engine that runs no process pays nothing.
    #[cfg(target_os = "linux")]
    cgroups: std::sync::OnceLock<Result<Cgroups, String>>,
    /// Containers started, to name their control groups.
    started: std::sync::atomic::AtomicU64,
    /// Limits were asked for and could not be enforced: warned once.
    warned_unlimited: std::sync::atomic::AtomicBool,
}

/// The processes of one runtime that are not reaped yet, for [`ProcessRuntime::shutdown`].
#[derive(Default)]
pub(crate) struct Registry {
    inner: Mutex<RegistryInner>,
    /// Notified when a process leaves the registry.
    left: Condvar,
}

#[derive(Default)]
struct RegistryInner {
    procs: HashMap<u64, Arc<Shared>>,
    next: u64,
    /// Set by shutdown: no process is registered (so none is started) afterwards.
    closed: bool,
}

impl Registry {
    fn remove(&self, serial: u64) {
        let mut g = self.inner.lock();
        g.procs.remove(&serial);
        self.left.notify_all();
    }
}

impl ProcessRuntime {
    /// A runtime with no processes.
    pub fn new() -> Self {
        ProcessRuntime {
            registry: Arc::new(Registry::default()),
            mount_namespaces: super::mount_ns::available(),
            mount_points: Arc::default(),
            images: Arc::default(),
            #[cfg(target_os = "linux")]
            use_cgroups: true,
            #[cfg(target_os = "linux")]
            cgroups: std::sync::OnceLock::new(),
            started: Default::default(),
            warned_unlimited: Default::default(),
        }
    }

    /// With `on` false, never puts processes in control groups of their own: limits are not
    /// enforced and usage is the leader's alone. With `on` true (the default), does when
    /// the host allows it (cgroup v2 delegated, or v1).
    pub fn with_cgroups(mut self, on: bool) -> Self {
        #[cfg(target_os = "linux")]
        {
            self.use_cgroups = on;
        }
        #[cfg(not(target_os = "linux"))]
        let _ = on;
        self
    }

    /// The host's control groups, found on first use; `None` when turned off.
    #[cfg(target_os = "linux")]
    fn cgroups(&self) -> Option<&Result<Cgroups, String>> {
        self.use_cgroups
            .then(|| self.cgroups.get_or_init(Cgroups::detect))
    }

    /// The cgroup version limits are enforced through (`"v1"` or `"v2"`), or `None` when
    /// they are not (no usable control groups, or turned off).
    pub fn cgroups_version(&self) -> Option<&'static str> {
        #[cfg(target_os = "linux")]
        if let Some(Ok(cg)) = self.cgroups() {
            return Some(cg.version());
        }
        None
    }

    /// The control group a container starts in, with its limits: `None` when the host has
    /// none steady can use (limits then not enforced, one warning) or creating it failed.
    #[cfg(target_os = "linux")]
    fn cgroup_for(&self, spec: &ContainerSpec) -> Option<Arc<Cgroup>> {
        use std::sync::atomic::Ordering;
        let limits = spec.container.resources.as_ref().map(|r| Limits {
            memory_bytes: r.limits.get("memory").map(|q| q.value().max(0) as u64),
            cpu_millis: r.limits.get("cpu").map(|q| q.milli_value().max(0) as u64),
        });
        let limited = limits.is_some_and(|l| l.memory_bytes.is_some() || l.cpu_millis.is_some());
        let why = match self.cgroups() {
            Some(Ok(cg)) => {
                let n = self.started.fetch_add(1, Ordering::Relaxed);
                let name = format!("{}-{}-{n}", spec.pod_uid, spec.container.name);
                match cg.create(&name, limits.unwrap_or_default()) {
                    Ok(g) => return Some(Arc::new(g)),
                    Err(e) => format!("creating its control group failed: {e}"),
                }
            }
            Some(Err(why)) => why.clone(),
            None => "control groups are turned off".to_string(),
        };
        if limited && !self.warned_unlimited.swap(true, Ordering::Relaxed) {
            log::warn!(
                "resources.limits are not enforced for process containers ({}/{} container {} \
                 and any later one): {why}",
                spec.namespace,
                spec.pod_name,
                spec.container.name
            );
        }
        None
    }

    /// Runs containers whose image `images` maps as that image's program, with the
    /// container's own `command`, `args`, `env` and `workingDir` overriding the image's as
    /// Kubernetes says ([`Image::argv`](super::images::Image::argv)).
    pub fn with_images(mut self, images: ImageTable) -> Self {
        self.images = Arc::new(images);
        self
    }

    /// With `on` false, never gives processes a mount namespace of their own: volumes are
    /// only at `STEADY_VOLUME_<NAME>`. With `on` true (the default), does when this host
    /// allows it (Linux, root).
    pub fn with_mount_namespaces(mut self, on: bool) -> Self {
        self.mount_namespaces = on && super::mount_ns::available();
        self
    }

    /// How many processes this runtime started that are not reaped yet.
    pub fn running(&self) -> usize {
        self.registry.inner.lock().procs.len()
    }

    /// The last resort at engine shutdown: refuses further starts, sends SIGKILL to the
    /// process group of every process still running, and waits up to `timeout` for them to be
    /// reaped (their exits are reported as usual). Returns how many were killed. Calling it
    /// again is harmless.
    pub fn shutdown(&self, timeout: Duration) -> usize {
        let procs: Vec<Arc<Shared>> = {
            let mut g = self.registry.inner.lock();
            g.closed = true;
            g.procs.values().cloned().collect()
        };
        let killed = procs.iter().filter(|p| p.signal(libc::SIGKILL)).count();
        let deadline = Instant::now() + timeout;
        let mut g = self.registry.inner.lock();
        while !g.procs.is_empty() {
            if self.registry.left.wait_until(&mut g, deadline).timed_out() {
                log::warn!(
                    "process runtime shutdown: {} process(es) not reaped after {timeout:?}",
                    g.procs.len()
                );
                break;
            }
        }
        killed
    }
}

impl Default for ProcessRuntime {
    fn default() -> Self {
        ProcessRuntime::new()
    }
}

impl Drop for ProcessRuntime {
    fn drop(&mut self) {
        self.shutdown(DROP_SHUTDOWN_TIMEOUT);
    }
}

impl fmt::Debug for ProcessRuntime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProcessRuntime")
            .field("running", &self.running())
            .finish()
    }
}

impl ContainerRuntime for ProcessRuntime {
    fn name(&self) -> &str {
        "process"
    }

    /// Containers whose image the image table maps, and containers with a non-empty
    /// `command`. (The agent asks the worker runtime first, so a registered worker image wins
    /// over both.)
    fn handles(&self, container: &Container) -> bool {
        !container.command.is_empty() || self.images.for_container(container).is_some()
    }

    fn mounts_at_mount_path(&self) -> bool {
        self.mount_namespaces
    }

    fn start(&self, spec: ContainerSpec) -> Result<Box<dyn RunningContainer>, StartError> {
        let (plan, mount_points) = if self.mount_namespaces && !spec.mounts.is_empty() {
            let (plan, lease) = super::mount_ns::MountPlan::new(&spec.mounts, &self.mount_points)
                .map_err(|e| {
                StartError::new(START_ERROR, format!("preparing the volume mounts: {e}"))
            })?;
            (Some(plan), Some(lease))
        } else {
            (None, None)
        };
        let image = self.images.for_container(&spec.container);
        // Only the container's own command and args are expanded, as the kubelet does.
        let argv: Vec<String> = match image {
            Some(image) => image
                .argv(&spec.container)
                .into_iter()
                .map(|(a, own)| {
                    if own {
                        expand_var_refs(a, &spec.env)
                    } else {
                        a.to_string()
                    }
                })
                .collect(),
            None => spec
                .container
                .command
                .iter()
                .chain(&spec.container.args)
                .map(|a| expand_var_refs(a, &spec.env))
                .collect(),
        };
        // The image's ENV and WORKDIR are defaults under the container's own.
        let mut env = Vec::new();
        let mut working_dir = spec.working_dir.clone();
        if let Some(image) = image {
            env.extend(
                image
                    .env
                    .iter()
                    .filter(|(k, _)| !spec.env.iter().any(|(n, _)| n == *k))
                    .map(|(k, v)| (k.clone(), v.clone())),
            );
            if spec.container.working_dir.is_none() {
                if let Some(dir) = &image.working_dir {
                    working_dir = Some(PathBuf::from(dir));
                }
            }
        }
        env.extend(spec.env.iter().cloned());
        let started = launch(
            Launch {
                argv: &argv,
                env: &env,
                working_dir: working_dir.as_deref(),
                log: spec.log.clone(),
                on_exit: spec.on_exit.clone(),
                mounts: plan,
                mount_points,
                join_mounts: None,
                #[cfg(target_os = "linux")]
                cgroup: self.cgroup_for(&spec),
            },
            Some(&self.registry),
        )?;
        log::debug!(
            "started {}/{} container {} as {}",
            spec.namespace,
            spec.pod_name,
            spec.container.name,
            started.id
        );
        Ok(Box::new(started))
    }
}

/// One started process, as the agent holds it. Container ID `process://<pid>`.
pub struct ProcessContainer {
    id: String,
    shared: Arc<Shared>,
}

/// What the waiter and the handle share.
struct Shared {
    pid: u32,
    state: Mutex<State>,
    /// The process's control group: its usage, children included, and whether the OOM
    /// killer struck. Removed once the process is reaped.
    #[cfg(target_os = "linux")]
    cgroup: Option<Arc<Cgroup>>,
}

#[derive(Default)]
struct State {
    /// The leader until it is reaped. Invariant: the group `pid` may be signalled only while
    /// this is `Some` and the lock is held.
    child: Option<Child>,
    /// CPU time read just before reaping.
    final_cpu: Option<Duration>,
    /// Set (before the exit notifier runs) once the exit is reported.
    exit: Option<ExitStatus>,
}

impl Shared {
    /// Sends `sig` to the process group if the leader is not reaped yet. True if it was sent.
    fn signal(&self, sig: libc::c_int) -> bool {
        let st = self.state.lock();
        if st.child.is_some() {
            signal_group(self.pid, sig);
            true
        } else {
            false
        }
    }
}

impl RunningContainer for ProcessContainer {
    fn id(&self) -> &str {
        &self.id
    }

    fn pid(&self) -> Option<u32> {
        Some(self.shared.pid)
    }

    /// SIGTERM to the process group; nothing once the leader was reaped.
    fn terminate(&self) {
        self.shared.signal(libc::SIGTERM);
    }

    /// SIGKILL to the process group; nothing once the leader was reaped.
    fn kill(&self) {
        self.shared.signal(libc::SIGKILL);
    }

    fn exit_status(&self) -> Option<ExitStatus> {
        self.shared.state.lock().exit.clone()
    }

    /// User plus system time of the leader and of the descendants it has waited for, from
    /// `/proc/<pid>/stat` (Linux; `None` elsewhere). After the exit: the last figure read.
    fn cpu_time(&self) -> Option<Duration> {
        let st = self.shared.state.lock();
        // Read under the lock with the child held: the pid is still ours.
        if st.child.is_some() {
            self.shared.cpu_time_now()
        } else {
            st.final_cpu
        }
    }

    fn memory_bytes(&self) -> Option<u64> {
        let st = self.shared.state.lock();
        // As cpu_time: only while the pid is still ours.
        st.child.as_ref()?;
        #[cfg(target_os = "linux")]
        if let Some(cg) = &self.shared.cgroup {
            return cg.memory_bytes();
        }
        read_resident_bytes(self.shared.pid)
    }
}

impl fmt::Debug for ProcessContainer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProcessContainer")
            .field("id", &self.id)
            .field("exit", &self.exit_status())
            .finish()
    }
}

impl Shared {
    /// CPU time so far: the whole control group's (children included) when the process has
    /// one, else the leader's and its waited-for children's. Call with the pid still ours.
    fn cpu_time_now(&self) -> Option<Duration> {
        #[cfg(target_os = "linux")]
        if let Some(cg) = &self.cgroup {
            return cg.cpu_time();
        }
        read_cpu_time(self.pid)
    }

    /// `status`, or with Kubernetes' reason `OOMKilled` when the container failed and the
    /// kernel's OOM killer struck in its control group (exit code 137 when it killed the
    /// leader).
    fn oom_or(&self, status: ExitStatus) -> ExitStatus {
        #[cfg(target_os = "linux")]
        if status.exit_code != 0 && self.cgroup.as_ref().is_some_and(|cg| cg.oom_killed()) {
            return ExitStatus {
                reason: "OOMKilled".into(),
                message: Some("the container went over its memory limit".into()),
                ..status
            };
        }
        status
    }
}

/// What [`launch`] starts.
pub(crate) struct Launch<'a> {
    /// Program and arguments (already expanded).
    pub argv: &'a [String],
    /// The whole environment, besides [`PASSTHROUGH_ENV`].
    pub env: &'a [(String, String)],
    pub working_dir: Option<&'a Path>,
    pub log: Arc<LogBuffer>,
    pub on_exit: ExitNotifier,
    /// Bind mounts made in a private mount namespace before exec.
    pub mounts: Option<super::mount_ns::MountPlan>,
    /// The mount points they use, released once the process is reaped.
    pub mount_points: Option<super::mount_ns::MountPointsLease>,
    /// A mount namespace to enter before exec (an exec probe's container's).
    pub join_mounts: Option<super::mount_ns::JoinNamespace>,
    /// The control group the process runs in (its limits, its usage), entered before exec.
    #[cfg(target_os = "linux")]
    pub cgroup: Option<Arc<Cgroup>>,
}

/// Starts `l.argv` as the leader of a new process group, with its output reader and its
/// waiter. Registered in `registry` when given (containers); exec probes are not.
pub(crate) fn launch(
    l: Launch<'_>,
    registry: Option<&Arc<Registry>>,
) -> Result<ProcessContainer, StartError> {
    let Some(program) = l.argv.first() else {
        return Err(StartError::new(START_ERROR, "the container has no command"));
    };
    if let Some(dir) = l.working_dir {
        match std::fs::metadata(dir) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(StartError::new(
                    START_ERROR,
                    format!("chdir to working directory {dir:?} failed: not a directory"),
                ))
            }
            Err(e) => {
                return Err(StartError::new(
                    START_ERROR,
                    format!("chdir to working directory {dir:?} failed: {e}"),
                ))
            }
        }
    }
    let (out_reader, out_writer) = super::spawner::pipe().map_err(|e| {
        StartError::new(START_ERROR, format!("creating the output pipe failed: {e}"))
    })?;
    let child = {
        // The Spawn owns the pipe's write ends; the spawner drops them right after the clone,
        // so that the reader sees end of file once the process group is gone.
        let stderr = out_writer.try_clone().map_err(|e| {
            StartError::new(START_ERROR, format!("creating the output pipe failed: {e}"))
        })?;
        let mut cmd = super::spawner::Spawn::new(program)
            .args(&l.argv[1..])
            .stdout(out_writer)
            .stderr(stderr)
            .process_group();
        for key in PASSTHROUGH_ENV {
            if let Some(v) = std::env::var_os(key) {
                cmd = cmd.env(key, v);
            }
        }
        // Later entries win, so the spec's values override the passed-through ones.
        for (k, v) in l.env {
            cmd = cmd.env(k, v);
        }
        if let Some(dir) = l.working_dir {
            cmd = cmd.current_dir(dir);
        }
        if let Some(ns) = l.join_mounts {
            // SAFETY: the hook runs in the child before exec and makes one
            // async-signal-safe call (setns) on a descriptor opened before the clone.
            cmd = unsafe { cmd.pre_exec(move || ns.apply_in_child()) };
        }
        #[cfg(target_os = "linux")]
        if let Some(cg) = l.cgroup.clone() {
            // SAFETY: the hook runs in the child before exec; `enter_in_child` allocates
            // nothing (its paths were prepared before) and calls only open, write and
            // close, which are async-signal-safe.
            cmd = unsafe { cmd.pre_exec(move || cg.enter_in_child()) };
        }
        if let Some(plan) = l.mounts {
            // SAFETY: the hook runs in the child before exec; `apply_in_child` allocates
            // nothing (the plan was prepared before) and makes only async-signal-safe
            // calls (unshare, mount, mkdir, open, close).
            cmd = unsafe { cmd.pre_exec(move || plan.apply_in_child()) };
        }
        // Started on the spawner thread, tied to the engine's life (`PR_SET_PDEATHSIG`: see
        // `super::spawner`). `spawn` returns once the child has exec'd (or failed to), so
        // the child already leads its own process group when the group is first signalled.
        super::spawner::spawn(cmd).map_err(|e| {
            // The child fails before exec when it cannot enter its control group; say so
            // rather than blame the program.
            #[cfg(target_os = "linux")]
            if l.cgroup.as_ref().is_some_and(|cg| !cg.exists()) {
                return StartError::new(
                    START_ERROR,
                    format!("entering the container's control group failed: {e}"),
                );
            }
            exec_error(program, &e)
        })?
    };
    let pid = child.id();
    let shared = Arc::new(Shared {
        pid,
        state: Mutex::new(State {
            child: Some(child),
            ..State::default()
        }),
        #[cfg(target_os = "linux")]
        cgroup: l.cgroup.clone(),
    });
    let serial = match registry {
        Some(reg) => {
            let mut g = reg.inner.lock();
            if g.closed {
                drop(g);
                abort_start(&shared);
                return Err(StartError::new(
                    START_ERROR,
                    "the process runtime is shut down",
                ));
            }
            let serial = g.next;
            g.next += 1;
            g.procs.insert(serial, shared.clone());
            Some(serial)
        }
        None => None,
    };
    let fail = |what: &str, e: io::Error| {
        abort_start(&shared);
        if let (Some(reg), Some(serial)) = (registry, serial) {
            reg.remove(serial);
        }
        StartError::new(
            START_ERROR,
            format!("starting the {what} thread failed: {e}"),
        )
    };
    let waiter = Waiter {
        shared: shared.clone(),
        registry: registry.cloned().zip(serial),
        on_exit: l.on_exit,
        mount_points: l.mount_points,
    };
    let log = l.log;
    // Linux: the one monitor thread reads the output and, through a pidfd, learns of the
    // exit (no thread per process). Elsewhere, or without pidfds, a reader and a waiter
    // thread of its own.
    #[cfg(target_os = "linux")]
    let (out_reader, log, waiter) =
        match super::procmon::get().map(|m| (m, super::procmon::pidfd_open(pid))) {
            Some((mon, Ok(pidfd))) => {
                let exited: super::procmon::Exited = Box::new(move || {
                    let report = waiter.reap();
                    Box::new(move || report.send())
                });
                mon.watch(out_reader, log, pidfd, exited)
                    .map_err(|e| fail("output monitor", e))?;
                return Ok(ProcessContainer {
                    id: format!("process://{pid}"),
                    shared,
                });
            }
            Some((_, Err(e))) => {
                log::debug!("pidfd_open({pid}) failed, threads of its own wait for it: {e}");
                (out_reader, log, waiter)
            }
            None => (out_reader, log, waiter),
        };
    // The reader holds `drained_tx` and drops it at end of file: the waiter's receive then
    // returns at once (disconnected).
    let (drained_tx, drained_rx) = crossbeam_channel::bounded::<()>(0);
    std::thread::Builder::new()
        .name(format!("steady-out-{pid}"))
        .stack_size(READER_STACK)
        .spawn(move || read_output(out_reader, &log, drained_tx))
        .map_err(|e| fail("output reader", e))?;
    spawn_waiter(pid, waiter, drained_rx).map_err(|e| fail("waiter", e))?;
    Ok(ProcessContainer {
        id: format!("process://{pid}"),
        shared,
    })
}

/// Kills and reaps a process whose start is being abandoned (no exit is reported).
fn abort_start(shared: &Shared) {
    let mut st = shared.state.lock();
    if let Some(mut child) = st.child.take() {
        signal_group(shared.pid, libc::SIGKILL);
        let _ = child.wait();
    }
}

/// The `StartError` for a failed spawn, with the OS error.
fn exec_error(program: &str, e: &io::Error) -> StartError {
    let message = if e.kind() == io::ErrorKind::NotFound && !program.contains('/') {
        format!("exec: {program:?}: executable file not found in $PATH: {e}")
    } else {
        format!("exec: {program:?}: {e}")
    };
    StartError::new(START_ERROR, message)
}

/// Starts the waiter thread of process `pid`: it waits for the exit, reaps, waits for the
/// output to be drained (`drained` disconnects) and reports.
fn spawn_waiter(pid: u32, waiter: Waiter, drained: Receiver<()>) -> io::Result<()> {
    std::thread::Builder::new()
        .name(format!("steady-wait-{pid}"))
        .stack_size(WAITER_STACK)
        .spawn(move || {
            let report = waiter.reap();
            // Logs are complete when the exit is reported (bounded: see
            // OUTPUT_DRAIN_TIMEOUT).
            let _ = drained.recv_timeout(OUTPUT_DRAIN_TIMEOUT);
            report.send();
        })
        .map(drop)
}

/// What reaps one process and reports its exit: run on a waiter thread of its own, or by
/// the process monitor once the process's pidfd says it ended.
struct Waiter {
    shared: Arc<Shared>,
    registry: Option<(Arc<Registry>, u64)>,
    on_exit: ExitNotifier,
    /// Released after the group is killed and the leader reaped: nothing of the process
    /// mounts on them any more.
    mount_points: Option<super::mount_ns::MountPointsLease>,
}

/// An exit, reaped, to report once the output is drained.
struct ExitReport {
    shared: Arc<Shared>,
    status: ExitStatus,
    on_exit: ExitNotifier,
}

impl ExitReport {
    fn send(self) {
        self.shared.state.lock().exit = Some(self.status.clone());
        (self.on_exit)(self.status);
    }
}

impl Waiter {
    /// Waits for the leader's exit (at once when it already ended), kills what is left of
    /// its group, reaps it and releases what it held.
    fn reap(self) -> ExitReport {
        let pid = self.shared.pid;
        let status = match wait_exited_keep_zombie(pid) {
            Ok(()) => {
                // The leader is a zombie: pid and group id are pinned until it is reaped
                // below, under the lock, so this SIGKILL reaches our group only.
                let mut st = self.shared.state.lock();
                signal_group(pid, libc::SIGKILL);
                st.final_cpu = self.shared.cpu_time_now();
                let status = match st.child.take().map(|mut c| c.wait()) {
                    Some(Ok(s)) => exit_status_of(s),
                    Some(Err(e)) => unknown_exit(pid, &e),
                    // Only abort_start takes the child, and it never runs with a waiter.
                    None => unknown_exit(pid, &io::Error::from(io::ErrorKind::NotFound)),
                };
                self.shared.oom_or(status)
            }
            Err(e) => {
                // Someone else reaped it (the host breaks the rule in the module docs): the
                // pid may be recycled already, so nothing is signalled any more.
                let mut st = self.shared.state.lock();
                st.child = None;
                unknown_exit(pid, &e)
            }
        };
        drop(self.mount_points);
        #[cfg(target_os = "linux")]
        if let Some(cg) = &self.shared.cgroup {
            cg.remove();
        }
        if let Some((reg, serial)) = &self.registry {
            reg.remove(*serial);
        }
        ExitReport {
            shared: self.shared,
            status,
            on_exit: self.on_exit,
        }
    }
}

fn exit_status_of(s: std::process::ExitStatus) -> ExitStatus {
    match (s.code(), s.signal()) {
        (Some(code), _) => ExitStatus::code(code),
        (None, Some(sig)) => ExitStatus::signaled(sig),
        (None, None) => ExitStatus::failed(255, "ContainerStatusUnknown", format!("{s}")),
    }
}

fn unknown_exit(pid: u32, e: &io::Error) -> ExitStatus {
    ExitStatus::failed(
        255,
        "ContainerStatusUnknown",
        format!("the exit status of process {pid} could not be read: {e}"),
    )
}

/// Appends everything read from the output pipe to `log` until end of file.
fn read_output(mut pipe: File, log: &LogBuffer, drained: Sender<()>) {
    let mut buf = vec![0u8; READ_CHUNK];
    loop {
        match pipe.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => log.append(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                log::debug!("reading process output failed: {e}");
                break;
            }
        }
    }
    drop(drained);
}

/// Blocks until process `pid` (our child) has ended, without reaping it.
fn wait_exited_keep_zombie(pid: u32) -> io::Result<()> {
    loop {
        // SAFETY: siginfo_t is plain data for which all-zero bytes are a valid value.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: waits for one specific pid and writes only into `info`, a valid siginfo_t;
        // WNOWAIT leaves the child waitable, so it is still reaped by `Child::wait`.
        let r = unsafe {
            libc::waitid(
                libc::P_PID,
                pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOWAIT,
            )
        };
        if r == 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// Sends `sig` to process group `pgid`. Callers guarantee the group is ours (see the
/// module's invariants).
fn signal_group(pgid: u32, sig: libc::c_int) {
    // kill(-1) would signal every process we may signal, and kill(0) our own group: a child's
    // pid is never 0 or 1, but this must hold even if that were wrong.
    let Ok(pgid) = libc::pid_t::try_from(pgid) else {
        return;
    };
    if pgid <= 1 {
        return;
    }
    // SAFETY: kill(2) takes no pointers; a negative pid addresses the process group.
    unsafe {
        libc::kill(-pgid, sig);
    }
}

/// utime + stime + cutime + cstime of `pid` from `/proc/<pid>/stat`.
#[cfg(target_os = "linux")]
fn read_cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may contain anything: count the fields
    // after its closing parenthesis, which start at field 3 (state).
    let rest = &stat[stat.rfind(')')? + 1..];
    let ticks = rest
        .split_whitespace()
        .skip(11) // fields 3..=13
        .take(4) // utime, stime, cutime, cstime (fields 14..=17)
        .map(|f| f.parse::<i64>().ok().map(|t| t.max(0) as u128))
        .sum::<Option<u128>>()?;
    let hz = clock_ticks_per_second();
    Some(Duration::from_nanos(
        u64::try_from(ticks * 1_000_000_000 / hz).unwrap_or(u64::MAX),
    ))
}

#[cfg(not(target_os = "linux"))]
fn read_cpu_time(_pid: u32) -> Option<Duration> {
    None
}

/// Resident set size of `pid`, from `/proc/<pid>/statm` (its second field, in pages).
#[cfg(target_os = "linux")]
fn read_resident_bytes(pid: u32) -> Option<u64> {
    let statm = std::fs::read_to_string(format!("/proc/{pid}/statm")).ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf takes no pointers and only reads a configuration value.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(pages * u64::try_from(page).ok().filter(|p| *p > 0).unwrap_or(4096))
}

#[cfg(not(target_os = "linux"))]
fn read_resident_bytes(_pid: u32) -> Option<u64> {
    None
}

#[cfg(target_os = "linux")]
fn clock_ticks_per_second() -> u128 {
    static HZ: std::sync::OnceLock<u128> = std::sync::OnceLock::new();
    *HZ.get_or_init(|| {
        // SAFETY: sysconf takes no pointers and only reads a configuration value.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        if hz > 0 {
            hz as u128
        } else {
            100
        }
    })
}

/// Expands `$(VAR)` references in a container's `command`, `args` (and exec probe commands)
/// from `env`, as Kubernetes does: `$(VAR)` becomes the value of the last `VAR` in `env`, and
/// stays as written when `VAR` is not defined; `$$` is an escaped `$` (so `$$(VAR)` gives
/// `$(VAR)`); any other `$` is kept.
///
/// ```
/// use steady::node::process::expand_var_refs;
/// let env = vec![("GREETING".to_string(), "hello".to_string())];
/// assert_eq!(expand_var_refs("$(GREETING) $$(GREETING) $(NOPE) $5", &env),
///            "hello $(GREETING) $(NOPE) $5");
/// ```
pub fn expand_var_refs(input: &str, env: &[(String, String)]) -> String {
    if !input.contains('$') {
        return input.to_string();
    }
    let lookup = |name: &str| {
        env.iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(tail) = after.strip_prefix('(') {
            match tail.find(')') {
                Some(end) if end > 0 => {
                    let name = &tail[..end];
                    match lookup(name) {
                        Some(v) => out.push_str(v),
                        None => {
                            out.push_str("$(");
                            out.push_str(name);
                            out.push(')');
                        }
                    }
                    rest = &tail[end + 1..];
                }
                // `$()` or an unterminated `$(`: literal.
                _ => {
                    out.push_str("$(");
                    rest = tail;
                }
            }
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn var_refs_expand_defined_variables_only() {
        let e = env(&[("A", "1"), ("B", "two")]);
        assert_eq!(expand_var_refs("$(A)-$(B)", &e), "1-two");
        assert_eq!(expand_var_refs("x$(C)y", &e), "x$(C)y");
        assert_eq!(expand_var_refs("no refs", &e), "no refs");
    }

    #[test]
    fn var_refs_double_dollar_escapes() {
        let e = env(&[("A", "1")]);
        assert_eq!(expand_var_refs("$$(A)", &e), "$(A)");
        assert_eq!(expand_var_refs("$$$(A)", &e), "$1");
        assert_eq!(expand_var_refs("cost: $$5", &e), "cost: $5");
    }

    #[test]
    fn var_refs_keep_malformed_references_literal() {
        let e = env(&[("A", "1")]);
        assert_eq!(expand_var_refs("$(A", &e), "$(A");
        assert_eq!(expand_var_refs("$()", &e), "$()");
        assert_eq!(expand_var_refs("end$", &e), "end$");
        assert_eq!(expand_var_refs("$A $(A)", &e), "$A 1");
    }

    #[test]
    fn var_refs_use_the_last_definition() {
        let e = env(&[("A", "host"), ("A", "declared")]);
        assert_eq!(expand_var_refs("$(A)", &e), "declared");
    }

    #[test]
    fn missing_program_names_path_lookup_and_os_error() {
        let e = exec_error("nosuch", &io::Error::from_raw_os_error(libc::ENOENT));
        assert_eq!(e.reason, "StartError");
        assert!(
            e.message
                .starts_with("exec: \"nosuch\": executable file not found in $PATH: "),
            "{}",
            e.message
        );
        assert!(e.message.contains("os error 2"), "{}", e.message);
        let e = exec_error("/bin/x", &io::Error::from_raw_os_error(libc::EACCES));
        assert!(e.message.starts_with("exec: \"/bin/x\": "), "{}", e.message);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn cpu_time_of_this_process_grows_while_it_computes() {
        let start = read_cpu_time(std::process::id()).expect("own /proc stat");
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut x = 0u64;
        loop {
            for i in 0..100_000u64 {
                x = x.wrapping_add(i * i);
            }
            std::hint::black_box(x);
            let now = read_cpu_time(std::process::id()).unwrap();
            if now >= start + Duration::from_millis(50) {
                break;
            }
            assert!(Instant::now() < deadline, "cpu time stuck at {now:?}");
        }
    }
}
