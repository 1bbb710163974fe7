//! Host workers: C start and stop callbacks registered under an image name as an ordinary
//! [`Worker`], and `steady_worker`, the handle through which a running instance reports
//! ready, heartbeats and its exit.
//!
//! Invariants:
//! - one `steady_worker` handle per instance, made before its start callback is called and
//!   freed after it returned; the stop callback gets the same handle, and only while start
//!   has not returned (the instance's `handle` lock is held around the stop callback, and
//!   taken to free the handle, so the handle is never freed under a running stop callback);
//! - the host's userdata destructor runs once, when the last holder of the worker drops it:
//!   the registry (on replacement or at engine free) or the last running instance; only then
//!   does the engine's count of live host workers go down, which `steady_engine_free` waits
//!   for (so no callback runs after it returned).

use super::boundary::{c_string, ffi_boundary, handle_arg, str_arg, CallbackScope, Out, UserData};
use super::engine::steady_engine;
use super::result::{steady_result, FfiError};
use crate::node::{Worker, WorkerContext};
use parking_lot::{Condvar, Mutex};
use std::collections::HashMap;
use std::ffi::{c_char, c_void, CString};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A running worker instance (opaque). steady makes one per instance and passes it to the
/// start and stop callbacks; it is valid until the start callback returns, and is freed by
/// steady (never by the host).
pub struct steady_worker {
    ctx: WorkerContext,
    pod_name: CString,
    namespace: CString,
    pod_uid: CString,
    node_name: CString,
    container_name: CString,
    /// Set by `steady_worker_exit_message`; reported with a non-zero exit.
    exit_message: Mutex<Option<String>>,
}

impl steady_worker {
    fn new(ctx: &WorkerContext) -> Self {
        let c = |s: &str| CString::new(s.replace('\0', " ")).expect("NULs were replaced");
        steady_worker {
            pod_name: c(ctx.pod_name()),
            namespace: c(ctx.namespace()),
            pod_uid: c(ctx.pod_uid()),
            node_name: c(ctx.node_name()),
            container_name: c(ctx.container_name()),
            ctx: ctx.clone(),
            exit_message: Mutex::new(None),
        }
    }
}

/// Runs one worker instance: called on a thread of its own (one per instance), with the
/// instance's handle. Returns the exit code: 0 for success; anything else is a failure with
/// that code (and the message set with `steady_worker_exit_message`, if any).
pub type steady_worker_start_fn =
    Option<unsafe extern "C" fn(userdata: *mut c_void, worker: *const steady_worker) -> i32>;

/// Asks a running instance to stop (the pod is being deleted or the engine is shutting
/// down): called on an engine thread while the instance's start callback is still running,
/// just before `steady_worker_stopping` turns true. It should only signal the instance
/// (which then returns from start) and return quickly.
pub type steady_worker_stop_fn =
    Option<unsafe extern "C" fn(userdata: *mut c_void, worker: *const steady_worker)>;

/// How many host workers of one engine are alive (registered, or held by an instance that
/// is still running). `steady_engine_free` waits for none to be left.
#[derive(Default)]
pub(crate) struct LiveWorkers {
    count: Mutex<usize>,
    none_left: Condvar,
}

/// One live host worker: counted from its making until it is dropped.
struct Alive(Arc<LiveWorkers>);

impl LiveWorkers {
    fn enter(self: &Arc<Self>) -> Alive {
        *self.count.lock() += 1;
        Alive(self.clone())
    }

    /// Blocks until every host worker was dropped (their start callbacks returned and their
    /// userdata destructors ran). Logs, now and then, what it still waits for: a start
    /// callback that ignores the stop request keeps it waiting.
    pub(crate) fn wait_none_left(&self) {
        let mut n = self.count.lock();
        let since = Instant::now();
        while *n > 0 {
            // Invariant: the count only goes down under this lock, followed by a notify,
            // so the wait cannot miss the last drop.
            if self
                .none_left
                .wait_for(&mut n, Duration::from_secs(10))
                .timed_out()
                && *n > 0
            {
                log::warn!(
                    "steady_engine_free: still waiting, after {}s, for {} host worker(s) whose \
                     start callback has not returned (a worker must return once asked to stop)",
                    since.elapsed().as_secs(),
                    *n
                );
            }
        }
    }
}

impl Drop for Alive {
    fn drop(&mut self) {
        let mut n = self.0.count.lock();
        *n -= 1;
        if *n == 0 {
            self.0.none_left.notify_all();
        }
    }
}

/// One instance whose start callback is running.
struct Instance {
    /// The handle both callbacks get; `None` once start returned. Held around a stop
    /// callback, so the handle cannot be freed under it.
    handle: Mutex<Option<Box<steady_worker>>>,
}

/// The host's callbacks as a [`Worker`].
struct HostWorker {
    start: unsafe extern "C" fn(*mut c_void, *const steady_worker) -> i32,
    stop: Option<unsafe extern "C" fn(*mut c_void, *const steady_worker)>,
    userdata: UserData,
    /// Instances whose start callback is running, by container ID.
    running: Mutex<HashMap<String, Arc<Instance>>>,
    /// Declared last: dropped after `userdata`, so the destructor has run when the count
    /// goes down.
    _alive: Alive,
}

impl Worker for HostWorker {
    fn run(&self, ctx: &WorkerContext) -> Result<(), String> {
        let handle = Box::new(steady_worker::new(ctx));
        let ptr: *const steady_worker = &*handle;
        let instance = Arc::new(Instance {
            handle: Mutex::new(Some(handle)),
        });
        let id = ctx.container_id().to_string();
        self.running.lock().insert(id.clone(), instance.clone());
        let code = {
            let _scope = CallbackScope::enter();
            // SAFETY: the host registered `start` for this userdata; `ptr` points into the
            // box owned by `instance`, which is only freed below, after this call returned.
            // No engine lock is held.
            unsafe { (self.start)(self.userdata.ptr.0, ptr) }
        };
        self.running.lock().remove(&id);
        // Waits for a stop callback in progress on this handle, then frees the handle.
        let handle = instance.handle.lock().take();
        if code == 0 {
            return Ok(());
        }
        ctx.set_exit_code(code);
        let message = handle.and_then(|h| h.exit_message.lock().take());
        Err(message.unwrap_or_else(|| format!("the start callback returned {code}")))
    }

    fn stop(&self, ctx: &WorkerContext) {
        let Some(stop) = self.stop else { return };
        let instance = self.running.lock().get(ctx.container_id()).cloned();
        let Some(instance) = instance else { return };
        let handle = instance.handle.lock();
        if let Some(h) = handle.as_deref() {
            let _scope = CallbackScope::enter();
            // SAFETY: the host registered `stop` for this userdata; the handle stays alive
            // while `handle` (its lock) is held. No engine lock is held.
            unsafe { stop(self.userdata.ptr.0, h) };
        }
    }
}

/// Registers (or replaces) the worker for `image`: every container with that image runs
/// `start` in-process, one call per instance, instead of a process. A pod names its node
/// with `spec.nodeName` (`steady_engine_node_names` gives the engine's nodes); its
/// containers report ready through `steady_worker_ready`, and their liveness through
/// `steady_worker_heartbeat` (a `livenessProbe` with a `heartbeat` handler fails without
/// one in its period).
///
/// - `start` runs each instance on a thread of its own (kept for the next instance), with
///   no engine lock held: it may call any `steady_` function (except
///   `steady_engine_free`), for example to read its own pod. It gets `userdata` and the
///   instance's `steady_worker` handle, valid until it returns. Its return value is the
///   exit code: 0 is success (reason `Completed`); any other value is a failure with that
///   exit code (reason `Error`, message from `steady_worker_exit_message`), and the pod's
///   `restartPolicy` decides whether it runs again (crash-loop backoff applies).
/// - `stop` (may be NULL) is called when the instance must stop (pod deleted, engine
///   freed), only while `start` has not returned, on an engine thread (during
///   `steady_engine_free`, on the thread calling it), with the same handle. Without it the
///   instance polls `steady_worker_stopping` or waits in `steady_worker_wait_stop`. An
///   instance still running when its grace period ends is reported killed (exit 137), but
///   its thread cannot be killed: `start` must still return.
/// - Registering the same image again replaces the worker for containers started
///   afterwards; running instances go on with the old callbacks. `free_userdata` (may be
///   NULL) is called once with `userdata` after the last callback of this registration:
///   when it has been replaced and its last instance returned, or during
///   `steady_engine_free`, which waits for every start callback to return. On failure
///   neither is called: the caller keeps `userdata`.
/// - A crash or a C++ exception in a callback cannot be caught: it takes the host down.
/// - Errors: `STEADY_NULL_PARAMETER`, `STEADY_INVALID_UTF8`, `STEADY_INVALID` (empty
///   image).
/// - Threads: any; also from inside callbacks. `userdata` must be usable from the engine's
///   threads.
///
/// # Safety
/// `engine` is a live engine; `image` NULL or NUL-terminated; `start` and `stop` valid
/// functions or NULL.
#[no_mangle]
pub unsafe extern "C" fn steady_engine_register_worker(
    engine: *const steady_engine,
    image: *const c_char,
    start: steady_worker_start_fn,
    stop: steady_worker_stop_fn,
    userdata: *mut c_void,
    free_userdata: Option<unsafe extern "C" fn(*mut c_void)>,
) -> steady_result {
    ffi_boundary!("steady_engine_register_worker", {
        let start = start.ok_or_else(|| FfiError::null("start"))?;
        let e = handle_arg(engine, "engine")?;
        let image = str_arg(image, "image")?;
        if image.is_empty() {
            return Err(FfiError::invalid(
                "image: a worker image name must not be empty",
            ));
        }
        let worker = HostWorker {
            start,
            stop,
            userdata: UserData::new(userdata, free_userdata),
            running: Mutex::new(HashMap::new()),
            _alive: e.workers.enter(),
        };
        e.engine.register_worker(image, worker);
        Ok(())
    })
}

/// The instance behind a handle, checked for NULL.
///
/// # Safety
/// `worker` is NULL or a handle whose start callback has not returned.
unsafe fn instance<'a>(worker: *const steady_worker) -> Result<&'a steady_worker, FfiError> {
    handle_arg(worker, "worker")
}

/// Reports the instance ready (it counts as a heartbeat too): the pod's Ready condition
/// turns True, and the pod joins the endpoints of its Services.
///
/// - Errors: `STEADY_NULL_PARAMETER`.
/// - Threads: any, while the instance's start callback has not returned.
///
/// # Safety
/// `worker` is NULL or a handle whose start callback has not returned.
#[no_mangle]
pub unsafe extern "C" fn steady_worker_ready(worker: *const steady_worker) -> steady_result {
    ffi_boundary!("steady_worker_ready", {
        instance(worker)?.ctx.ready();
        Ok(())
    })
}

/// Withdraws readiness: the pod's Ready condition turns False and it leaves the endpoints
/// of its Services.
///
/// - Errors and threads as `steady_worker_ready`.
///
/// # Safety
/// As `steady_worker_ready`.
#[no_mangle]
pub unsafe extern "C" fn steady_worker_not_ready(worker: *const steady_worker) -> steady_result {
    ffi_boundary!("steady_worker_not_ready", {
        instance(worker)?.ctx.not_ready();
        Ok(())
    })
}

/// Says the instance is alive. A `livenessProbe` with a `heartbeat` handler (`{"heartbeat":
/// {}, "periodSeconds": 5}`) fails when no heartbeat came within its period, and the
/// container is restarted or the pod fails, as for any failed liveness probe.
///
/// - Errors and threads as `steady_worker_ready`.
///
/// # Safety
/// As `steady_worker_ready`.
#[no_mangle]
pub unsafe extern "C" fn steady_worker_heartbeat(worker: *const steady_worker) -> steady_result {
    ffi_boundary!("steady_worker_heartbeat", {
        instance(worker)?.ctx.heartbeat();
        Ok(())
    })
}

/// True once the instance has been asked to stop; it should then return from its start
/// callback (within the pod's grace period). A NULL `worker` counts as stopping, so that a
/// loop on it ends (and the thread's last error says why).
///
/// - Threads: any, while the instance's start callback has not returned.
///
/// # Safety
/// As `steady_worker_ready`.
#[no_mangle]
pub unsafe extern "C" fn steady_worker_stopping(worker: *const steady_worker) -> bool {
    ffi_boundary!("steady_worker_stopping", or true, {
        match instance(worker) {
            Ok(w) => w.ctx.stopping(),
            Err(e) => {
                e.report();
                true
            }
        }
    })
}

/// Waits until the instance is asked to stop, or `timeout_ms` milliseconds pass (0 polls;
/// a negative value waits without limit): a worker's idle sleep that wakes at once on stop.
///
/// - `STEADY_OK`: the instance is asked to stop. `STEADY_TIMEOUT`: the time passed first.
/// - Errors: `STEADY_NULL_PARAMETER`.
/// - Threads: any, while the instance's start callback has not returned. Blocks the calling
///   thread, holding no engine lock.
///
/// # Safety
/// As `steady_worker_ready`.
#[no_mangle]
pub unsafe extern "C" fn steady_worker_wait_stop(
    worker: *const steady_worker,
    timeout_ms: i64,
) -> steady_result {
    ffi_boundary!("steady_worker_wait_stop", {
        let w = instance(worker)?;
        let stopping = match u64::try_from(timeout_ms) {
            Ok(ms) => w.ctx.wait_stop(Duration::from_millis(ms)),
            Err(_) => loop {
                if w.ctx.wait_stop(Duration::from_secs(3600)) {
                    break true;
                }
            },
        };
        if stopping {
            Ok(())
        } else {
            Err(FfiError::new(
                steady_result::STEADY_TIMEOUT,
                format!(
                    "worker {}: not asked to stop within {timeout_ms} ms",
                    w.ctx.pod_name()
                ),
            ))
        }
    })
}

/// Writes `line` (copied) to the container's log, as a process would write a line to its
/// output: `steady_engine_logs` returns it.
///
/// - Errors: `STEADY_NULL_PARAMETER`, `STEADY_INVALID_UTF8`.
/// - Threads: any, while the instance's start callback has not returned.
///
/// # Safety
/// As `steady_worker_ready`; `line` NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn steady_worker_log(
    worker: *const steady_worker,
    line: *const c_char,
) -> steady_result {
    ffi_boundary!("steady_worker_log", {
        let w = instance(worker)?;
        w.ctx.log(str_arg(line, "line")?);
        Ok(())
    })
}

/// Sets the message of a failed exit (copied; the last one set wins): the container's
/// `state.terminated.message` when the start callback returns non-zero. Also written to the
/// container's log.
///
/// - Errors: `STEADY_NULL_PARAMETER`, `STEADY_INVALID_UTF8`.
/// - Threads: any, while the instance's start callback has not returned.
///
/// # Safety
/// As `steady_worker_log`; `message` NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn steady_worker_exit_message(
    worker: *const steady_worker,
    message: *const c_char,
) -> steady_result {
    ffi_boundary!("steady_worker_exit_message", {
        let w = instance(worker)?;
        *w.exit_message.lock() = Some(str_arg(message, "message")?.to_string());
        Ok(())
    })
}

/// The value of the container's environment variable `name`: steady sets `POD_NAME`,
/// `POD_NAMESPACE`, `POD_UID`, `NODE_NAME`, `POD_IP` and `HOSTNAME`, then the container's
/// `env` (values and `fieldRef`s) on top.
///
/// - On success `*out_value` is a new string owned by the caller (free with
///   `steady_string_free`).
/// - Errors: `STEADY_NOT_FOUND` (no such variable), `STEADY_NULL_PARAMETER`,
///   `STEADY_INVALID_UTF8`.
/// - Threads: any, while the instance's start callback has not returned.
///
/// # Safety
/// As `steady_worker_ready`; `name` NULL or NUL-terminated; `out_value` NULL or valid for a
/// write.
#[no_mangle]
pub unsafe extern "C" fn steady_worker_env(
    worker: *const steady_worker,
    name: *const c_char,
    out_value: *mut *mut c_char,
) -> steady_result {
    ffi_boundary!("steady_worker_env", {
        let out = Out::required(out_value, "out_value")?;
        let w = instance(worker)?;
        let name = str_arg(name, "name")?;
        let value = w.ctx.env_var(name).ok_or_else(|| {
            FfiError::new(
                steady_result::STEADY_NOT_FOUND,
                format!(
                    "container {:?} of pod {}/{} has no environment variable {name:?}",
                    w.ctx.container_name(),
                    w.ctx.namespace(),
                    w.ctx.pod_name()
                ),
            )
        })?;
        out.write(c_string(value.as_bytes().to_vec()));
        Ok(())
    })
}

/// The host directory mounted at `mount_path` in the container (a `volumeMounts` entry:
/// an emptyDir or a claim's directory).
///
/// - On success `*out_path` is a new string owned by the caller (free with
///   `steady_string_free`).
/// - Errors: `STEADY_NOT_FOUND` (nothing mounted there), `STEADY_NULL_PARAMETER`,
///   `STEADY_INVALID_UTF8`.
/// - Threads: any, while the instance's start callback has not returned.
///
/// # Safety
/// As `steady_worker_env`.
#[no_mangle]
pub unsafe extern "C" fn steady_worker_mount(
    worker: *const steady_worker,
    mount_path: *const c_char,
    out_path: *mut *mut c_char,
) -> steady_result {
    ffi_boundary!("steady_worker_mount", {
        let out = Out::required(out_path, "out_path")?;
        let w = instance(worker)?;
        let mount_path = str_arg(mount_path, "mount_path")?;
        let path = w.ctx.mount(mount_path).ok_or_else(|| {
            FfiError::new(
                steady_result::STEADY_NOT_FOUND,
                format!(
                    "container {:?} of pod {}/{} has nothing mounted at {mount_path:?}",
                    w.ctx.container_name(),
                    w.ctx.namespace(),
                    w.ctx.pod_name()
                ),
            )
        })?;
        out.write(c_string(path.to_string_lossy().into_owned().into_bytes()));
        Ok(())
    })
}

/// One of the instance's names, lent: `field` picks it.
///
/// # Safety
/// As `steady_worker_ready`.
unsafe fn name_of(
    worker: *const steady_worker,
    field: fn(&steady_worker) -> &CString,
) -> *const c_char {
    match instance(worker) {
        Ok(w) => field(w).as_ptr(),
        Err(e) => {
            e.report();
            std::ptr::null()
        }
    }
}

/// The name of the instance's pod.
///
/// - Ownership: lent; the string belongs to the handle and is valid until the start
///   callback returns (copy it to keep it). Never free it.
/// - NULL only when `worker` is NULL (the thread's last error says so).
/// - Threads: any, while the instance's start callback has not returned.
///
/// # Safety
/// As `steady_worker_ready`.
#[no_mangle]
pub unsafe extern "C" fn steady_worker_pod_name(worker: *const steady_worker) -> *const c_char {
    ffi_boundary!("steady_worker_pod_name", or std::ptr::null(), {
        name_of(worker, |w| &w.pod_name)
    })
}

/// The namespace of the instance's pod. Ownership, NULL and threads as
/// `steady_worker_pod_name`.
///
/// # Safety
/// As `steady_worker_ready`.
#[no_mangle]
pub unsafe extern "C" fn steady_worker_namespace(worker: *const steady_worker) -> *const c_char {
    ffi_boundary!("steady_worker_namespace", or std::ptr::null(), {
        name_of(worker, |w| &w.namespace)
    })
}

/// The uid of the instance's pod (`metadata.uid`). Ownership, NULL and threads as
/// `steady_worker_pod_name`.
///
/// # Safety
/// As `steady_worker_ready`.
#[no_mangle]
pub unsafe extern "C" fn steady_worker_pod_uid(worker: *const steady_worker) -> *const c_char {
    ffi_boundary!("steady_worker_pod_uid", or std::ptr::null(), {
        name_of(worker, |w| &w.pod_uid)
    })
}

/// The node the instance runs on (the pod's `spec.nodeName`). Ownership, NULL and threads
/// as `steady_worker_pod_name`.
///
/// # Safety
/// As `steady_worker_ready`.
#[no_mangle]
pub unsafe extern "C" fn steady_worker_node_name(worker: *const steady_worker) -> *const c_char {
    ffi_boundary!("steady_worker_node_name", or std::ptr::null(), {
        name_of(worker, |w| &w.node_name)
    })
}

/// The name of the instance's container (pods may run several containers of one image).
/// Ownership, NULL and threads as `steady_worker_pod_name`.
///
/// # Safety
/// As `steady_worker_ready`.
#[no_mangle]
pub unsafe extern "C" fn steady_worker_container_name(
    worker: *const steady_worker,
) -> *const c_char {
    ffi_boundary!("steady_worker_container_name", or std::ptr::null(), {
        name_of(worker, |w| &w.container_name)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};

    #[test]
    fn freeing_waits_until_the_last_live_worker_is_dropped() {
        let live = Arc::new(LiveWorkers::default());
        live.wait_none_left(); // none yet: returns at once
        let a = live.enter();
        let b = live.enter();
        drop(a);
        let dropped_b = Arc::new(AtomicBool::new(false));
        let flag = dropped_b.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            flag.store(true, Ordering::SeqCst);
            drop(b);
        });
        live.wait_none_left();
        assert!(
            dropped_b.load(Ordering::SeqCst),
            "returned before the last drop"
        );
        t.join().unwrap();
        assert_eq!(*live.count.lock(), 0);
    }
}
