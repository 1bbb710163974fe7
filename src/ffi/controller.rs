//! Host controllers: a C reconcile callback registered as an ordinary
//! [`Controller`] on the engine's pool.

use super::boundary::{ffi_boundary, handle_arg, opt_str_arg, str_arg, CallbackScope, UserData};
use super::engine::steady_engine;
use super::result::{steady_result, FfiError};
use super::{kind, options};
use crate::runtime::{Action, Context, Controller, ReconcileError, ReconcileResult};
use std::ffi::{c_char, c_void, CString};
use std::sync::Arc;
use std::time::Duration;

/// What a reconcile callback returns.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(non_camel_case_types)]
pub enum steady_reconcile_action {
    /// Done: nothing until the object (or an object it owns) changes.
    STEADY_RECONCILE_DONE = 0,
    /// Reconcile again after the delay set with `steady_reconcile_reply_requeue_after` (0 if
    /// none was set), even if nothing changes.
    STEADY_RECONCILE_REQUEUE = 1,
    /// Failed: retried with per-key exponential backoff (5 ms doubling to 1000 s). The
    /// message set with `steady_reconcile_reply_error` is counted and logged.
    STEADY_RECONCILE_ERROR = 2,
    /// Failed in a way retrying cannot fix: counted, recorded as a Warning Event, and not
    /// retried until the object changes.
    STEADY_RECONCILE_TERMINAL_ERROR = 3,
}

/// The object a reconcile is about. Every string is borrowed for the duration of the call.
#[repr(C)]
pub struct steady_reconcile_request {
    /// The controller's name.
    pub controller: *const c_char,
    /// The primary kind's apiVersion (`"example.com/v1"`).
    pub api_version: *const c_char,
    /// The primary kind (`"Widget"`).
    pub kind: *const c_char,
    /// The object's namespace; NULL for a cluster-scoped kind.
    pub ns: *const c_char,
    /// The object's name. The object may be gone (deleted): `steady_engine_get` then gives
    /// `STEADY_NOT_FOUND`, and the reconcile should clean up and return done.
    pub name: *const c_char,
    /// How many times in a row this object's reconcile has failed before this call.
    pub retries: u32,
}

/// Where a reconcile callback puts the details of its answer (opaque; valid during the call
/// only).
pub struct steady_reconcile_reply {
    requeue_after: Option<Duration>,
    error: Option<String>,
}

/// Reconciles one object: reads the current state (`steady_engine_get`), compares it with
/// the desired state, acts, and returns one of `steady_reconcile_action`. Must be idempotent.
/// Any other return value is an error, retried with backoff as `STEADY_RECONCILE_ERROR` is,
/// its message naming the value.
///
/// `request` and `reply` are valid for the call only.
pub type steady_reconcile_fn = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        request: *const steady_reconcile_request,
        reply: *mut steady_reconcile_reply,
    ) -> i32,
>;

/// The host's reconcile callback with its userdata, as a [`crate::runtime::Reconciler`].
struct HostReconciler {
    f: unsafe extern "C" fn(
        *mut c_void,
        *const steady_reconcile_request,
        *mut steady_reconcile_reply,
    ) -> i32,
    userdata: Arc<UserData>,
    controller: CString,
    api_version: CString,
    kind: CString,
}

fn c(s: &str) -> CString {
    // Names and namespaces are DNS labels and kinds alphanumeric: no NUL can occur.
    CString::new(s).unwrap_or_default()
}

impl HostReconciler {
    fn reconcile(&self, ctx: &Context) -> ReconcileResult {
        let ns = ctx.namespace().map(c);
        let name = c(ctx.name());
        let request = steady_reconcile_request {
            controller: self.controller.as_ptr(),
            api_version: self.api_version.as_ptr(),
            kind: self.kind.as_ptr(),
            ns: ns.as_ref().map_or(std::ptr::null(), |n| n.as_ptr()),
            name: name.as_ptr(),
            retries: ctx.retries(),
        };
        let mut reply = steady_reconcile_reply {
            requeue_after: None,
            error: None,
        };
        let action = {
            let _scope = CallbackScope::enter();
            // SAFETY: the host registered `f` for this userdata; request and reply live on
            // this stack frame for the whole call. No engine lock is held here.
            unsafe { (self.f)(self.userdata.ptr.0, &request, &mut reply) }
        };
        let message = |what: &str| {
            reply
                .error
                .clone()
                .unwrap_or_else(|| format!("the reconcile callback returned {what}"))
        };
        use steady_reconcile_action::*;
        match action {
            a if a == STEADY_RECONCILE_DONE as i32 => Ok(Action::done()),
            a if a == STEADY_RECONCILE_REQUEUE as i32 => Ok(Action::requeue(
                reply.requeue_after.unwrap_or(Duration::ZERO),
            )),
            a if a == STEADY_RECONCILE_ERROR as i32 => {
                Err(ReconcileError::Retry(message("STEADY_RECONCILE_ERROR")))
            }
            a if a == STEADY_RECONCILE_TERMINAL_ERROR as i32 => Err(ReconcileError::Terminal(
                message("STEADY_RECONCILE_TERMINAL_ERROR"),
            )),
            other => Err(ReconcileError::Retry(format!(
                "the reconcile callback returned {other}, which is not a steady_reconcile_action"
            ))),
        }
    }
}

/// Registers and starts a controller whose reconciler is a C callback. It first reconciles
/// every existing object of its kind, then each one that changes.
///
/// - `name`: unique per engine (`STEADY_ALREADY_EXISTS` otherwise). `kind`: the primary
///   kind, as `steady_engine_get` names it (`"Pod"`, `"example.com/v1/Widget"`).
/// - `options_json`: NULL or `{"owns": [kinds], "namespace": "..", "selector": "app=web",
///   "concurrency": n}`: `owns` also reconciles an object when an object of those kinds
///   that it controls (ownerReference with `controller: true`) changes; `namespace` and
///   `selector` limit which objects are reconciled; `concurrency` (default 1) is how many of
///   this controller's objects may be reconciled at once (never the same object twice at
///   once).
/// - `reconcile` runs on the engine's worker threads (never for the same object on two
///   threads at once), with no engine lock held: it may call any `steady_` function (except
///   `steady_engine_free`), for example to read the object and write its children and status.
///   It receives `userdata`, which must be usable from those threads.
/// - `free_userdata` (may be NULL) is called once with `userdata` when the controller is
///   dropped, during `steady_engine_free`. On failure neither is called: the caller keeps
///   `userdata`.
/// - Errors: `STEADY_ALREADY_EXISTS`, `STEADY_INVALID` (unknown kind, bad options),
///   `STEADY_CLOSED`, `STEADY_NULL_PARAMETER` (`engine`, `name`, `kind`, `reconcile`),
///   `STEADY_INVALID_UTF8` (`name`, `kind`, `options_json`).
/// - Threads: any; also from inside callbacks.
///
/// # Safety
/// `engine` is a live engine; strings NULL or NUL-terminated; `reconcile` a valid function.
#[no_mangle]
pub unsafe extern "C" fn steady_engine_add_controller(
    engine: *const steady_engine,
    name: *const c_char,
    kind: *const c_char,
    options_json: *const c_char,
    reconcile: steady_reconcile_fn,
    userdata: *mut c_void,
    free_userdata: Option<unsafe extern "C" fn(*mut c_void)>,
) -> steady_result {
    ffi_boundary!("steady_engine_add_controller", {
        let f = reconcile.ok_or_else(|| FfiError::null("reconcile"))?;
        let e = handle_arg(engine, "engine")?;
        let name = str_arg(name, "name")?;
        let api = kind::resolve(&e.engine, str_arg(kind, "kind")?)?;
        let info = api.info();
        let controller = Controller::new(name, &info.api_version, &info.kind);
        let controller = options::controller(
            &e.engine,
            controller,
            opt_str_arg(options_json, "options_json")?,
        )?;
        let userdata = Arc::new(UserData::new(userdata, free_userdata));
        let host = HostReconciler {
            f,
            userdata: userdata.clone(),
            controller: c(name),
            api_version: c(&info.api_version),
            kind: c(&info.kind),
        };
        let controller = controller.build(move |ctx: &Context| host.reconcile(ctx));
        match e.engine.add_controller(controller) {
            Ok(()) => Ok(()),
            Err(err) => {
                // The engine dropped its copy; ours is the last: the caller keeps userdata.
                userdata.disarm();
                Err(err.into())
            }
        }
    })
}

/// Asks for the next reconcile of this object after `millis` milliseconds; used with
/// `STEADY_RECONCILE_REQUEUE`.
///
/// - Threads: the reconcile callback's own, during the call.
///
/// # Safety
/// `reply` is NULL or the reply of the reconcile callback now running on this thread.
#[no_mangle]
pub unsafe extern "C" fn steady_reconcile_reply_requeue_after(
    reply: *mut steady_reconcile_reply,
    millis: u64,
) -> steady_result {
    ffi_boundary!("steady_reconcile_reply_requeue_after", {
        // SAFETY: NULL or the live reply, per the caller.
        let r = unsafe { reply.as_mut() }.ok_or_else(|| FfiError::null("reply"))?;
        r.requeue_after = Some(Duration::from_millis(millis));
        Ok(())
    })
}

/// Sets the error message of a failed reconcile (copied; the caller keeps `message`); used
/// with `STEADY_RECONCILE_ERROR` and `STEADY_RECONCILE_TERMINAL_ERROR`. The message is
/// logged, and recorded in a Warning Event for terminal errors.
///
/// - Threads: the reconcile callback's own, during the call.
///
/// # Safety
/// `reply` is NULL or the reply of the reconcile callback now running on this thread;
/// `message` NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn steady_reconcile_reply_error(
    reply: *mut steady_reconcile_reply,
    message: *const c_char,
) -> steady_result {
    ffi_boundary!("steady_reconcile_reply_error", {
        let message = str_arg(message, "message")?;
        // SAFETY: NULL or the live reply, per the caller.
        let r = unsafe { reply.as_mut() }.ok_or_else(|| FfiError::null("reply"))?;
        r.error = Some(message.to_string());
        Ok(())
    })
}
