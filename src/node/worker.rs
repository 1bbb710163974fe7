//! The worker runtime: in-process workers that the host registers under an image name.
//!
//! A container whose `image` names a registered [`Worker`] runs it on a thread of its own.
//! The worker gets a [`WorkerContext`]: who it is (pod, namespace, node, environment), how to
//! say it is ready and alive (the Agones `Ready()`/`Health()` pair: [`WorkerContext::ready`],
//! [`WorkerContext::heartbeat`]), and when to stop ([`WorkerContext::stopping`]). A worker
//! that returns has exited (`Ok` is exit code 0, `Err` exit code 1 with its message); one that
//! panics has exited with code 2 and reason `Panicked`; the engine goes on either way.
//!
//! Stopping is cooperative: `terminate` raises the stop flag and calls [`Worker::stop`]; a
//! worker still running when the grace period ends is reported killed (exit 137) at once and
//! its thread is left to finish on its own (a thread cannot be killed); whatever it returns
//! later is ignored.

use super::logs::LogBuffer;
use super::runtime::{
    ContainerRuntime, ContainerSpec, ExitNotifier, ExitStatus, RunningContainer, StartError,
    WorkerHealth,
};
use crate::api::Container;
use crate::clock::SharedClock;
use parking_lot::{Condvar, Mutex, RwLock};
use std::collections::HashMap;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Something the host runs in-process as a container.
pub trait Worker: Send + Sync + 'static {
    /// Runs one instance until it is done or asked to stop. Called on a thread of its own.
    fn run(&self, ctx: &WorkerContext) -> Result<(), String>;

    /// Called when the instance is asked to stop, from an engine thread, only while `run` has
    /// not returned, and just before [`WorkerContext::stopping`] turns true. The default does
    /// nothing: the worker polls `stopping()` or waits in [`WorkerContext::wait_stop`].
    fn stop(&self, ctx: &WorkerContext) {
        let _ = ctx;
    }
}

impl<F> Worker for F
where
    F: Fn(&WorkerContext) -> Result<(), String> + Send + Sync + 'static,
{
    fn run(&self, ctx: &WorkerContext) -> Result<(), String> {
        self(ctx)
    }
}

/// The workers registered on an engine, by image name. Shared by every node agent.
#[derive(Default)]
pub struct WorkerRegistry {
    workers: RwLock<HashMap<String, Arc<dyn Worker>>>,
}

impl fmt::Debug for WorkerRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkerRegistry")
            .field("images", &self.images())
            .finish()
    }
}

impl WorkerRegistry {
    /// Registers (or replaces) the worker for `image`. Containers started afterwards use it.
    pub fn register(&self, image: &str, worker: Arc<dyn Worker>) {
        self.workers.write().insert(image.to_string(), worker);
    }

    /// Removes the worker for `image`; running instances go on.
    pub fn unregister(&self, image: &str) -> bool {
        self.workers.write().remove(image).is_some()
    }

    /// The worker for `image`.
    pub fn get(&self, image: &str) -> Option<Arc<dyn Worker>> {
        self.workers.read().get(image).cloned()
    }

    /// The registered image names, sorted.
    pub fn images(&self) -> Vec<String> {
        let mut v: Vec<String> = self.workers.read().keys().cloned().collect();
        v.sort();
        v
    }
}

/// What a running worker instance sees of itself. Cheap to clone.
#[derive(Clone)]
pub struct WorkerContext {
    shared: Arc<Shared>,
}

struct Shared {
    spec: ContainerSpec,
    /// The container ID (`worker://<image>/<n>`), unique per instance.
    id: String,
    /// Exit code reported when `run` returns `Err`.
    exit_code: AtomicI32,
    clock: SharedClock,
    ready: AtomicBool,
    /// Monotonic nanoseconds of the last heartbeat + 1 (0: none yet).
    heartbeat: AtomicU64,
    stopping: Mutex<bool>,
    stop_cv: Condvar,
    /// True once `run` returned. The stop hook runs under this lock, so it is only ever
    /// called while `run` has not returned (hosts may free per-instance state after).
    returned: Mutex<bool>,
    /// Set once when the exit has been reported; later reports are ignored.
    exited: Mutex<Option<ExitStatus>>,
    on_exit: ExitNotifier,
}

impl fmt::Debug for WorkerContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkerContext")
            .field("pod", &self.pod_name())
            .field("namespace", &self.namespace())
            .field("container", &self.container_name())
            .finish()
    }
}

impl WorkerContext {
    /// Name of the pod this instance belongs to.
    pub fn pod_name(&self) -> &str {
        &self.shared.spec.pod_name
    }

    /// Namespace of the pod.
    pub fn namespace(&self) -> &str {
        &self.shared.spec.namespace
    }

    /// uid of the pod.
    pub fn pod_uid(&self) -> &str {
        &self.shared.spec.pod_uid
    }

    /// Node the pod runs on.
    pub fn node_name(&self) -> &str {
        &self.shared.spec.node_name
    }

    /// The ID of this instance (`worker://<image>/<n>`, as in the pod's
    /// `containerStatuses[].containerID`): unique among the instances of an engine, a
    /// restart gets a new one.
    pub fn container_id(&self) -> &str {
        &self.shared.id
    }

    /// Sets the exit code reported when `run` returns `Err` (1 unless set). For hosts whose
    /// workers have codes of their own (a C worker returns one). 0 is taken as 1: a
    /// failure never reports success.
    pub fn set_exit_code(&self, code: i32) {
        let code = if code == 0 { 1 } else { code };
        self.shared.exit_code.store(code, Ordering::Release);
    }

    /// Name of the container.
    pub fn container_name(&self) -> &str {
        &self.shared.spec.container.name
    }

    /// The container as declared (args, ports, env...).
    pub fn container(&self) -> &Container {
        &self.shared.spec.container
    }

    /// The resolved environment (see [`ContainerSpec::env`]).
    pub fn env(&self) -> &[(String, String)] {
        &self.shared.spec.env
    }

    /// One environment variable.
    pub fn env_var(&self, name: &str) -> Option<&str> {
        self.shared
            .spec
            .env
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The host directory mounted at `mount_path`, if any.
    pub fn mount(&self, mount_path: &str) -> Option<PathBuf> {
        self.shared
            .spec
            .mounts
            .iter()
            .find(|m| m.mount_path == mount_path)
            .map(|m| m.host_path.clone())
    }

    /// Reports the worker ready (it counts as a heartbeat too). Readiness gates the pod's
    /// Ready condition, and so the Service endpoints.
    pub fn ready(&self) {
        self.heartbeat();
        if !self.shared.ready.swap(true, Ordering::AcqRel) {
            (self.shared.spec.on_change)();
        }
    }

    /// Withdraws readiness (the pod leaves Service endpoints).
    pub fn not_ready(&self) {
        if self.shared.ready.swap(false, Ordering::AcqRel) {
            (self.shared.spec.on_change)();
        }
    }

    /// Says the worker is alive. A liveness probe with a `heartbeat` handler fails when none
    /// came within its period.
    pub fn heartbeat(&self) {
        let now = self.shared.clock.monotonic().as_nanos() as u64 + 1;
        self.shared.heartbeat.store(now, Ordering::Release);
    }

    /// True once the instance has been asked to stop.
    pub fn stopping(&self) -> bool {
        *self.shared.stopping.lock()
    }

    /// Blocks until asked to stop or `timeout` (real time) passes; true when asked to stop.
    /// Workers use it as their idle loop's sleep.
    pub fn wait_stop(&self, timeout: Duration) -> bool {
        let mut g = self.shared.stopping.lock();
        if !*g {
            // Invariant: `stopping` only goes false -> true under this mutex, and the notify
            // follows the store, so a waiter that saw false cannot miss the wakeup.
            let _ = self.shared.stop_cv.wait_for(&mut g, timeout);
        }
        *g
    }

    /// Writes a line to the container's log.
    pub fn log(&self, line: &str) {
        self.shared.spec.log.line(line);
    }

    /// The container's log buffer.
    pub fn log_buffer(&self) -> &Arc<LogBuffer> {
        &self.shared.spec.log
    }

    fn request_stop(&self) -> bool {
        let mut g = self.shared.stopping.lock();
        let first = !*g;
        *g = true;
        self.shared.stop_cv.notify_all();
        first
    }

    /// Reports the exit once; later reports are ignored.
    fn exit(&self, status: ExitStatus) {
        {
            let mut g = self.shared.exited.lock();
            if g.is_some() {
                return;
            }
            *g = Some(status.clone());
        }
        // Outside the lock: the notifier queues work and may take other locks.
        (self.shared.on_exit)(status);
    }
}

/// Runs registered [`Worker`]s in-process.
pub struct WorkerRuntime {
    registry: Arc<WorkerRegistry>,
    clock: SharedClock,
    ids: AtomicU64,
    threads: ThreadCache,
}

type Job = Box<dyn FnOnce() + Send>;

/// Threads for worker instances, kept for a while after an instance ends so a restart does
/// not pay for a thread spawn (the bulk of an in-process restart).
#[derive(Default)]
struct ThreadCache {
    /// One sender per idle thread, and whether the cache is shut down. A thread that gave up
    /// waiting leaves its sender behind; sending to it fails and hands the job back, so
    /// stale entries cost one failed send. Invariant: a thread turns idle (pushes its
    /// sender) only under this lock and only while not shut down, so `shutdown`, which sets
    /// the flag and drains the list under the same lock, wakes every idle thread.
    idle: Arc<Mutex<Idle>>,
    /// Every thread spawned, for `shutdown` to join.
    handles: Mutex<Vec<std::thread::JoinHandle<()>>>,
}

#[derive(Default)]
struct Idle {
    senders: Vec<crossbeam_channel::Sender<Job>>,
    closed: bool,
}

/// How long an idle instance thread waits for the next instance.
const IDLE_THREAD_KEEP: Duration = Duration::from_secs(30);

impl ThreadCache {
    fn run(&self, mut job: Job) -> std::io::Result<()> {
        loop {
            let Some(tx) = self.idle.lock().senders.pop() else {
                break;
            };
            match tx.send(job) {
                Ok(()) => return Ok(()),
                Err(crossbeam_channel::SendError(j)) => job = j,
            }
        }
        // Threads hold the list weakly, so an idle thread never keeps a dropped runtime's
        // list alive (it exits at its next idle turn, or after the keep time).
        let idle = Arc::downgrade(&self.idle);
        let handle = std::thread::Builder::new()
            .name("steady-worker".into())
            .spawn(move || {
                let mut job = job;
                loop {
                    job();
                    let (tx, rx) = crossbeam_channel::bounded::<Job>(1);
                    match idle.upgrade() {
                        Some(list) => {
                            let mut l = list.lock();
                            if l.closed {
                                return;
                            }
                            l.senders.push(tx);
                        }
                        None => return,
                    }
                    match rx.recv_timeout(IDLE_THREAD_KEEP) {
                        Ok(next) => job = next,
                        Err(_) => return,
                    }
                }
            })?;
        let mut handles = self.handles.lock();
        handles.retain(|h| !h.is_finished());
        handles.push(handle);
        Ok(())
    }

    /// Ends the idle threads and joins every thread that ends within `wait` (a worker that
    /// ignores its stop keeps its thread; it is left, not waited for forever).
    fn shutdown(&self, wait: Duration) -> usize {
        {
            let mut l = self.idle.lock();
            l.closed = true;
            // Dropping the senders wakes the idle threads, which then return.
            l.senders.clear();
        }
        let deadline = std::time::Instant::now() + wait;
        let handles: Vec<_> = self.handles.lock().drain(..).collect();
        let mut left = 0;
        for h in handles {
            while !h.is_finished() && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(1));
            }
            if h.is_finished() {
                let _ = h.join();
            } else {
                left += 1;
            }
        }
        left
    }
}

impl WorkerRuntime {
    /// Ends the threads kept for restarts and joins every instance thread that ends within
    /// `wait`. Called at engine shutdown, after every instance was asked to stop, so no
    /// thread of a finished engine lingers (hosts that check for leaks at exit see none).
    /// Returns how many threads are still running a worker that ignored its stop.
    pub fn shutdown(&self, wait: Duration) -> usize {
        self.threads.shutdown(wait)
    }
}

impl fmt::Debug for WorkerRuntime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkerRuntime")
            .field("registry", &self.registry)
            .finish()
    }
}

impl WorkerRuntime {
    /// A runtime running the workers of `registry`, heartbeats timed on `clock`.
    pub fn new(registry: Arc<WorkerRegistry>, clock: SharedClock) -> Self {
        WorkerRuntime {
            registry,
            clock,
            ids: AtomicU64::new(0),
            threads: ThreadCache::default(),
        }
    }
}

impl ContainerRuntime for WorkerRuntime {
    fn name(&self) -> &str {
        "worker"
    }

    fn handles(&self, container: &Container) -> bool {
        container
            .image
            .as_deref()
            .is_some_and(|i| self.registry.get(i).is_some())
    }

    fn start(&self, spec: ContainerSpec) -> Result<Box<dyn RunningContainer>, StartError> {
        let image = spec.container.image.clone().unwrap_or_default();
        let worker = self.registry.get(&image).ok_or_else(|| {
            StartError::new(
                "ErrImageNeverPull",
                format!("no worker is registered for image {image:?}"),
            )
        })?;
        let n = self.ids.fetch_add(1, Ordering::Relaxed);
        let id = format!("worker://{image}/{n}");
        let ctx = WorkerContext {
            shared: Arc::new(Shared {
                on_exit: spec.on_exit.clone(),
                spec,
                id: id.clone(),
                exit_code: AtomicI32::new(1),
                clock: self.clock.clone(),
                ready: AtomicBool::new(false),
                heartbeat: AtomicU64::new(0),
                stopping: Mutex::new(false),
                stop_cv: Condvar::new(),
                returned: Mutex::new(false),
                exited: Mutex::new(None),
            }),
        };
        let thread_ctx = ctx.clone();
        let thread_worker = worker.clone();
        self.threads
            .run(Box::new(move || {
                let ctx = thread_ctx;
                let status = match catch_unwind(AssertUnwindSafe(|| thread_worker.run(&ctx))) {
                    Ok(Ok(())) => ExitStatus::code(0),
                    Ok(Err(msg)) => {
                        ctx.log(&format!("worker failed: {msg}"));
                        let code = ctx.shared.exit_code.load(Ordering::Acquire);
                        ExitStatus::failed(code, "Error", msg)
                    }
                    Err(panic) => {
                        let msg = panic_message(&panic);
                        ctx.log(&format!("worker panicked: {msg}"));
                        ExitStatus::failed(2, "Panicked", msg)
                    }
                };
                // From here on `terminate` no longer calls the stop hook (it checks this flag
                // under the same lock, so a hook that began earlier finishes first).
                *ctx.shared.returned.lock() = true;
                ctx.exit(status);
            }))
            .map_err(|e| StartError::new("StartError", format!("spawning a thread: {e}")))?;
        Ok(Box::new(RunningWorker { id, ctx, worker }))
    }
}

/// The text of a panic payload.
pub(crate) fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-string panic".into())
}

struct RunningWorker {
    id: String,
    ctx: WorkerContext,
    worker: Arc<dyn Worker>,
}

impl RunningContainer for RunningWorker {
    fn id(&self) -> &str {
        &self.id
    }

    fn terminate(&self) {
        if self.ctx.stopping() {
            return;
        }
        {
            // The hook first, then the flag: the worker is still inside `run` while its stop
            // hook runs (see `Shared::returned`).
            let returned = self.ctx.shared.returned.lock();
            if !*returned {
                // The host's stop hook must not take the agent down.
                if let Err(p) = catch_unwind(AssertUnwindSafe(|| self.worker.stop(&self.ctx))) {
                    log::error!(
                        "worker {}: stop hook panicked: {}",
                        self.id,
                        panic_message(&p)
                    );
                }
            }
        }
        self.ctx.request_stop();
    }

    fn kill(&self) {
        self.ctx.request_stop();
        // A thread cannot be killed: report the exit now and let the thread finish alone.
        self.ctx.exit(ExitStatus {
            exit_code: 137,
            signal: Some(9),
            reason: "Killed".into(),
            message: Some("the worker did not stop within its grace period".into()),
        });
    }

    fn exit_status(&self) -> Option<ExitStatus> {
        self.ctx.shared.exited.lock().clone()
    }

    fn health(&self) -> Option<WorkerHealth> {
        let hb = self.ctx.shared.heartbeat.load(Ordering::Acquire);
        Some(WorkerHealth {
            ready: self.ctx.shared.ready.load(Ordering::Acquire),
            last_heartbeat: (hb > 0).then(|| Duration::from_nanos(hb - 1)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{Clock, ManualClock, SystemClock};
    use crossbeam_channel::{bounded, Receiver};

    fn spec(image: &str) -> (ContainerSpec, Receiver<ExitStatus>) {
        let (tx, rx) = bounded(4);
        let spec = ContainerSpec {
            namespace: "default".into(),
            pod_name: "p".into(),
            pod_uid: "u".into(),
            node_name: "n".into(),
            container: Container {
                name: "c".into(),
                image: Some(image.into()),
                ..Default::default()
            },
            env: vec![("POD_NAME".into(), "p".into())],
            working_dir: None,
            mounts: vec![],
            log: Arc::new(LogBuffer::new(1024)),
            on_exit: Arc::new(move |s| {
                let _ = tx.send(s);
            }),
            on_change: Arc::new(|| {}),
        };
        (spec, rx)
    }

    fn runtime(clock: SharedClock) -> (Arc<WorkerRegistry>, WorkerRuntime) {
        let reg = Arc::new(WorkerRegistry::default());
        (reg.clone(), WorkerRuntime::new(reg, clock))
    }

    const WAIT: Duration = Duration::from_secs(10);

    #[test]
    fn handles_only_registered_images() {
        let (reg, rt) = runtime(Arc::new(SystemClock::new()));
        reg.register("game", Arc::new(|_: &WorkerContext| Ok(())));
        let mut c = Container {
            image: Some("game".into()),
            ..Default::default()
        };
        assert!(rt.handles(&c));
        c.image = Some("other".into());
        assert!(!rt.handles(&c));
        c.image = None;
        assert!(!rt.handles(&c));
    }

    #[test]
    fn return_values_and_panics_become_exit_statuses_exactly_once() {
        let (reg, rt) = runtime(Arc::new(SystemClock::new()));
        reg.register("ok", Arc::new(|_: &WorkerContext| Ok(())));
        reg.register(
            "err",
            Arc::new(|_: &WorkerContext| Err("bad config".into())),
        );
        reg.register(
            "boom",
            Arc::new(|_: &WorkerContext| -> Result<(), String> { panic!("kaboom") }),
        );
        let (s, rx) = spec("ok");
        let _c = rt.start(s).unwrap();
        assert_eq!(rx.recv_timeout(WAIT).unwrap(), ExitStatus::code(0));
        let (s, rx) = spec("err");
        let _c = rt.start(s).unwrap();
        let st = rx.recv_timeout(WAIT).unwrap();
        assert_eq!(
            (st.exit_code, st.message.as_deref()),
            (1, Some("bad config"))
        );
        let (s, rx) = spec("boom");
        let log = s.log.clone();
        let c = rt.start(s).unwrap();
        let st = rx.recv_timeout(WAIT).unwrap();
        assert_eq!((st.exit_code, st.reason.as_str()), (2, "Panicked"));
        assert_eq!(st.message.as_deref(), Some("kaboom"));
        assert!(log.text().contains("kaboom"));
        assert_eq!(c.exit_status(), Some(st));
        c.kill();
        assert!(rx.recv_timeout(Duration::from_millis(50)).is_err(), "once");
    }

    #[test]
    fn terminate_raises_stop_and_calls_the_stop_hook() {
        struct Stoppable(Arc<AtomicBool>);
        impl Worker for Stoppable {
            fn run(&self, ctx: &WorkerContext) -> Result<(), String> {
                ctx.ready();
                while !ctx.wait_stop(Duration::from_secs(60)) {}
                Ok(())
            }
            fn stop(&self, _: &WorkerContext) {
                self.0.store(true, Ordering::SeqCst);
            }
        }
        let hooked = Arc::new(AtomicBool::new(false));
        let (reg, rt) = runtime(Arc::new(SystemClock::new()));
        reg.register("srv", Arc::new(Stoppable(hooked.clone())));
        let (s, rx) = spec("srv");
        let c = rt.start(s).unwrap();
        let deadline = std::time::Instant::now() + WAIT;
        while !c.health().unwrap().ready {
            assert!(std::time::Instant::now() < deadline);
            std::thread::yield_now();
        }
        c.terminate();
        assert_eq!(rx.recv_timeout(WAIT).unwrap(), ExitStatus::code(0));
        assert!(hooked.load(Ordering::SeqCst));
    }

    #[test]
    fn a_failed_run_reports_the_exit_code_it_set_and_each_instance_has_its_own_id() {
        let (reg, rt) = runtime(Arc::new(SystemClock::new()));
        let ids = Arc::new(Mutex::new(Vec::new()));
        let seen = ids.clone();
        reg.register(
            "coded",
            Arc::new(move |ctx: &WorkerContext| {
                seen.lock().push(ctx.container_id().to_string());
                ctx.set_exit_code(if ctx.pod_name() == "zero" { 0 } else { 42 });
                Err("config missing".into())
            }),
        );
        let (s, rx) = spec("coded");
        let c = rt.start(s).unwrap();
        let st = rx.recv_timeout(WAIT).unwrap();
        assert_eq!((st.exit_code, st.reason.as_str()), (42, "Error"));
        assert_eq!(st.message.as_deref(), Some("config missing"));
        let (mut s, rx) = spec("coded");
        s.pod_name = "zero".into();
        let c2 = rt.start(s).unwrap();
        assert_eq!(
            rx.recv_timeout(WAIT).unwrap().exit_code,
            1,
            "0 is no failure code"
        );
        assert_eq!(*ids.lock(), vec![c.id().to_string(), c2.id().to_string()]);
        assert_ne!(c.id(), c2.id());
    }

    #[test]
    fn the_stop_hook_is_not_called_once_run_has_returned() {
        struct Counting(Arc<AtomicU64>);
        impl Worker for Counting {
            fn run(&self, _: &WorkerContext) -> Result<(), String> {
                Err("gone at once".into())
            }
            fn stop(&self, _: &WorkerContext) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let stops = Arc::new(AtomicU64::new(0));
        let (reg, rt) = runtime(Arc::new(SystemClock::new()));
        reg.register("brief", Arc::new(Counting(stops.clone())));
        let (s, rx) = spec("brief");
        let c = rt.start(s).unwrap();
        rx.recv_timeout(WAIT).unwrap();
        c.terminate();
        assert_eq!(stops.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn kill_reports_at_once_and_ignores_the_late_return() {
        let (reg, rt) = runtime(Arc::new(SystemClock::new()));
        let release = Arc::new((Mutex::new(false), Condvar::new()));
        let r = release.clone();
        reg.register(
            "stuck",
            Arc::new(move |_: &WorkerContext| {
                let mut g = r.0.lock();
                while !*g {
                    r.1.wait(&mut g);
                }
                Ok(())
            }),
        );
        let (s, rx) = spec("stuck");
        let c = rt.start(s).unwrap();
        c.terminate();
        assert!(
            rx.recv_timeout(Duration::from_millis(50)).is_err(),
            "ignores stop"
        );
        c.kill();
        let st = rx.recv_timeout(WAIT).unwrap();
        assert_eq!((st.exit_code, st.signal), (137, Some(9)));
        *release.0.lock() = true;
        release.1.notify_all();
        assert!(rx.recv_timeout(Duration::from_millis(100)).is_err());
    }

    #[test]
    fn a_restarted_instance_reuses_the_idle_thread_of_the_last_one() {
        let (reg, rt) = runtime(Arc::new(SystemClock::new()));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        reg.register(
            "quick",
            Arc::new(move |_: &WorkerContext| {
                s.lock().push(std::thread::current().id());
                Ok(())
            }),
        );
        for _ in 0..3 {
            let (sp, rx) = spec("quick");
            let _c = rt.start(sp).unwrap();
            rx.recv_timeout(WAIT).unwrap();
            // The exit is reported just before the thread turns idle; let it get there.
            let deadline = std::time::Instant::now() + WAIT;
            while rt.threads.idle.lock().senders.is_empty() {
                assert!(std::time::Instant::now() < deadline);
                std::thread::yield_now();
            }
        }
        let seen = seen.lock();
        assert_eq!(seen.len(), 3);
        assert!(
            seen.iter().all(|t| *t == seen[0]),
            "one thread served all three"
        );
    }

    #[test]
    fn shutdown_ends_the_idle_threads_kept_for_restarts() {
        let (reg, rt) = runtime(Arc::new(SystemClock::new()));
        reg.register("quick", Arc::new(|_: &WorkerContext| Ok(())));
        let (sp, rx) = spec("quick");
        let _c = rt.start(sp).unwrap();
        rx.recv_timeout(WAIT).unwrap();
        let deadline = std::time::Instant::now() + WAIT;
        while rt.threads.idle.lock().senders.is_empty() {
            assert!(std::time::Instant::now() < deadline);
            std::thread::yield_now();
        }
        // Without waking it, the idle thread would wait out its 30 s keep time.
        assert_eq!(
            rt.shutdown(Duration::from_secs(5)),
            0,
            "the idle thread ended"
        );
    }

    #[test]
    fn heartbeats_are_timed_on_the_engine_clock() {
        let clock = Arc::new(ManualClock::default());
        let (reg, rt) = runtime(clock.clone());
        let (tx, beat) = bounded::<()>(1);
        reg.register(
            "hb",
            Arc::new(move |ctx: &WorkerContext| {
                ctx.heartbeat();
                let _ = tx.send(());
                ctx.wait_stop(Duration::from_secs(60));
                Ok(())
            }),
        );
        clock.advance(Duration::from_secs(7));
        let (s, _rx) = spec("hb");
        let c = rt.start(s).unwrap();
        beat.recv_timeout(WAIT).unwrap();
        let h = c.health().unwrap();
        assert!(!h.ready);
        assert_eq!(h.last_heartbeat, Some(clock.monotonic()));
        c.terminate();
    }

    #[test]
    fn context_exposes_identity_env_and_logs() {
        let (reg, rt) = runtime(Arc::new(SystemClock::new()));
        reg.register(
            "id",
            Arc::new(|ctx: &WorkerContext| {
                ctx.log(&format!(
                    "{}/{} on {} as {}: {:?}",
                    ctx.namespace(),
                    ctx.pod_name(),
                    ctx.node_name(),
                    ctx.container_name(),
                    ctx.env_var("POD_NAME")
                ));
                Ok(())
            }),
        );
        let (s, rx) = spec("id");
        let log = s.log.clone();
        let _c = rt.start(s).unwrap();
        rx.recv_timeout(WAIT).unwrap();
        assert_eq!(log.text(), "default/p on n as c: Some(\"p\")\n");
    }
}
