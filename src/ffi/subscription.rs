//! `steady_subscription`: a watch whose events are handed to a callback on an engine-owned
//! thread.
//!
//! Invariants: after `steady_subscription_free` or `steady_engine_free` returns, the
//! callback is never called again (both join the thread; the one exception, freeing from
//! inside the callback itself, cannot join and instead stops the thread once the callback
//! returns). The userdata destructor runs once, after the last callback.

use super::boundary::{
    ffi_boundary, free_handle, handle_arg, into_handle, CallbackScope, Out, UserData,
};
use super::engine::steady_engine;
use super::json;
use super::result::{steady_result, FfiError};
use crate::store::Watch;
use parking_lot::Mutex;
use std::ffi::{c_char, c_void};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Receives one watch event: `event_json` is `{"type": "ADDED" | "MODIFIED" | "DELETED",
/// "object": {..}}`, or, as the last call, `{"type": "ERROR", "object": {"kind": "Status",
/// "reason": "Expired" | "Closed", "code": 410 | 503, "message": ..}}` when the watch ends
/// (Expired: list again and subscribe from the list's resourceVersion).
///
/// `event_json` is borrowed for the call only. Return 0 to go on, anything else to stop (the
/// subscription then ends; still free it).
pub type steady_watch_fn =
    Option<unsafe extern "C" fn(userdata: *mut c_void, event_json: *const c_char) -> i32>;

/// A callback watch (opaque). Made by `steady_subscription_new`, freed by
/// `steady_subscription_free`.
pub struct steady_subscription {
    thread: Arc<SubscriptionThread>,
}

/// The thread of one callback watch, shared by its handle and its engine (which joins it).
pub(crate) struct SubscriptionThread {
    /// Set to stop; the thread checks it at least every [`STOP_POLL`].
    stop: AtomicBool,
    handle: Mutex<Option<JoinHandle<()>>>,
}

/// How often an idle subscription thread looks at its stop flag. The store's watch cannot be
/// woken by anything but an event or its closing, so stopping by hand waits up to this long;
/// an engine shutdown closes the watch and wakes it at once.
const STOP_POLL: Duration = Duration::from_millis(50);

impl SubscriptionThread {
    /// Stops the thread and waits for it, unless called on the thread itself (from inside
    /// its callback), where it only asks it to stop after the callback returns; the handle
    /// then stays in place for the engine to join when it is freed.
    pub(crate) fn join(&self) {
        self.stop.store(true, Ordering::Release);
        let handle = {
            let mut slot = self.handle.lock();
            if slot
                .as_ref()
                .is_some_and(|h| h.thread().id() == std::thread::current().id())
            {
                return;
            }
            slot.take()
        };
        if let Some(h) = handle {
            let _ = h.join();
        }
    }

    /// True once the thread has ended (or was joined).
    fn finished(&self) -> bool {
        self.handle.lock().as_ref().is_none_or(|h| h.is_finished())
    }
}

struct Callback {
    f: unsafe extern "C" fn(*mut c_void, *const c_char) -> i32,
    userdata: Arc<UserData>,
}

impl Callback {
    /// Calls the host with `event` (NUL-terminated here). True to go on.
    fn call(&self, mut event: Vec<u8>) -> bool {
        event.push(0);
        let _scope = CallbackScope::enter();
        // SAFETY: the host registered `f` for this userdata; the event string is
        // NUL-terminated and outlives the call.
        unsafe { (self.f)(self.userdata.ptr.0, event.as_ptr().cast()) == 0 }
    }
}

fn run(
    mut watch: Watch,
    kind: String,
    api_version: String,
    cb: Callback,
    me: Arc<SubscriptionThread>,
) {
    // Acquire pairs with the Release in `join`: once seen, no further callback is made.
    while !me.stop.load(Ordering::Acquire) {
        match watch.recv_timeout(STOP_POLL) {
            Ok(Some(ev)) => {
                if !cb.call(json::event(&kind, &api_version, &ev)) {
                    break;
                }
            }
            Ok(None) => {}
            Err(e) => {
                cb.call(json::error_event(&e));
                break;
            }
        }
    }
    // `cb` (and with it the userdata destructor) drops here, on this thread.
}

/// Starts a callback watch: every event of the kind is passed to `callback` on a thread the
/// engine owns, in revision order with no gaps.
///
/// - `kind`, `ns`, `label_selector` and `since` as `steady_watch_new`.
/// - `callback` runs on the subscription's own thread, one event at a time, with no engine
///   lock held: it may call any `steady_` function (except `steady_engine_free`). A slow
///   callback delays only its own events (which queue, up to the engine's `watch_capacity`;
///   beyond that the watch ends with Expired).
/// - `userdata` is passed to every call; it must be usable from that thread.
///   `free_userdata` (may be NULL) is called once with it after the last callback (on the
///   subscription's thread, or on the calling thread if the subscription ended at once).
///   On failure neither is called: the caller keeps `userdata`.
/// - On success `*out_subscription` is a new handle owned by the caller: free it with
///   `steady_subscription_free` (also after the callback stopped it, and after the engine
///   was freed).
/// - Errors: as `steady_watch_new`.
/// - Threads: any; also from inside callbacks.
///
/// # Safety
/// `engine` is a live engine; strings NULL or NUL-terminated; `callback` a valid function;
/// `out_subscription` NULL or valid for a write.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn steady_subscription_new(
    engine: *const steady_engine,
    kind: *const c_char,
    ns: *const c_char,
    label_selector: *const c_char,
    since: i64,
    callback: steady_watch_fn,
    userdata: *mut c_void,
    free_userdata: Option<unsafe extern "C" fn(*mut c_void)>,
    out_subscription: *mut *mut steady_subscription,
) -> steady_result {
    ffi_boundary!("steady_subscription_new", {
        let out = Out::required(out_subscription, "out_subscription")?;
        let f = callback.ok_or_else(|| FfiError::null("callback"))?;
        let e = handle_arg(engine, "engine")?;
        let (watch, api) = super::watch::open(engine, kind, ns, label_selector, since)?;
        let shared = Arc::new(SubscriptionThread {
            stop: AtomicBool::new(false),
            handle: Mutex::new(None),
        });
        let userdata = Arc::new(UserData::new(userdata, free_userdata));
        let cb = Callback {
            f,
            userdata: userdata.clone(),
        };
        let (kind, api_version) = (api.info().kind.clone(), api.info().api_version.clone());
        let me = shared.clone();
        // Hold the slot while spawning, so a thread that ends at once cannot be joined
        // before its handle is stored.
        let mut slot = shared.handle.lock();
        let spawned = std::thread::Builder::new()
            .name(format!("steady-watch-{kind}"))
            .spawn(move || run(watch, kind, api_version, cb, me));
        match spawned {
            Ok(h) => *slot = Some(h),
            Err(err) => {
                // The failed spawn dropped its copy; ours is the last: the caller keeps it.
                userdata.disarm();
                return Err(FfiError::invalid(format!(
                    "could not start the subscription thread: {err}"
                )));
            }
        }
        drop(slot);
        drop(userdata);
        let ended: Vec<_> = {
            let mut subs = e.subscriptions.lock();
            let (ended, running): (Vec<_>, Vec<_>) = subs.drain(..).partition(|s| s.finished());
            *subs = running;
            subs.push(shared.clone());
            ended
        };
        // Threads that already ended: joining them returns at once.
        for s in ended {
            s.join();
        }
        out.write(into_handle(steady_subscription { thread: shared }));
        Ok(())
    })
}

/// Stops a callback watch and frees its handle: when this returns the callback is not
/// running and will not be called again (unless this is called from inside that callback:
/// then the subscription ends as soon as the callback returns). NULL is a no-op.
///
/// - Threads: any; also from inside callbacks. Waits up to about 50 ms for an idle
///   subscription thread to notice.
///
/// # Safety
/// `subscription` is NULL or a handle from `steady_subscription_new` not freed before.
#[no_mangle]
pub unsafe extern "C" fn steady_subscription_free(subscription: *mut steady_subscription) {
    ffi_boundary!("steady_subscription_free", or(), {
        // SAFETY: NULL or a live handle, per the caller.
        if let Some(s) = unsafe { subscription.as_ref() } {
            s.thread.join();
        }
        free_handle(subscription);
    })
}
