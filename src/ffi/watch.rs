//! `steady_watch`: a blocking watch of one kind, read with a timeout.

use super::boundary::{
    c_string, ffi_boundary, free_handle, handle_arg, into_handle, opt_str_arg, Out,
};
use super::engine::{selector, steady_engine};
use super::json;
use super::result::{steady_result, FfiError};
use crate::client::DynamicApi;
use crate::store::{Watch, WatchParams};
use parking_lot::Mutex;
use std::ffi::c_char;
use std::time::Duration;

/// A watch of one kind (opaque). Made by `steady_watch_new`, freed by `steady_watch_free`.
/// Safe to use from any thread; calls on one watch are serialised.
pub struct steady_watch {
    /// The store's watch; the lock serialises `steady_watch_next` callers (a watch is a
    /// single stream).
    watch: Mutex<Watch>,
    kind: String,
    api_version: String,
}

/// The store watch for a kind string and the C watch parameters.
///
/// # Safety
/// As `steady_watch_new`.
pub(crate) unsafe fn open(
    engine: *const steady_engine,
    kind: *const c_char,
    ns: *const c_char,
    label_selector: *const c_char,
    since: i64,
) -> Result<(Watch, DynamicApi), FfiError> {
    let e = handle_arg(engine, "engine")?;
    let kind_str = super::boundary::str_arg(kind, "kind")?;
    let api = super::kind::resolve(&e.engine, kind_str)?;
    let params = WatchParams {
        namespace: opt_str_arg(ns, "ns")?.map(str::to_string),
        selector: selector(opt_str_arg(label_selector, "label_selector")?)?,
        since: u64::try_from(since).ok(),
        bookmarks: false,
    };
    let w = api.watch(&params)?;
    Ok((w, api))
}

/// Starts watching a kind.
///
/// - `kind` as `steady_engine_get`. `ns`: one namespace or NULL for all. `label_selector`:
///   NULL or a Kubernetes selector (objects moving in or out of it are ADDED or DELETED).
/// - `since`: a resourceVersion (from a list or an object) to get every change after it,
///   replayed from history (`STEADY_EXPIRED` when the engine no longer has it: list again;
///   `STEADY_INVALID`, "too large resource version", when it is beyond the engine's);
///   or -1 (any negative value) to start now, with a synthetic ADDED event per current object.
/// - On success `*out_watch` is a new watch owned by the caller: free it with
///   `steady_watch_free` (it may outlive the engine; it then reports `STEADY_CLOSED`).
/// - Errors: `STEADY_INVALID` (unknown kind, bad selector, `since` beyond the engine's
///   revision), `STEADY_EXPIRED`, `STEADY_CLOSED`, `STEADY_NULL_PARAMETER` (`engine`, `kind`,
///   `out_watch`), `STEADY_INVALID_UTF8` (`kind`, `ns`, `label_selector`).
/// - Threads: any; also from inside callbacks.
///
/// # Safety
/// `engine` is a live engine; strings NULL or NUL-terminated; `out_watch` NULL or valid for a
/// write.
#[no_mangle]
pub unsafe extern "C" fn steady_watch_new(
    engine: *const steady_engine,
    kind: *const c_char,
    ns: *const c_char,
    label_selector: *const c_char,
    since: i64,
    out_watch: *mut *mut steady_watch,
) -> steady_result {
    ffi_boundary!("steady_watch_new", {
        let out = Out::required(out_watch, "out_watch")?;
        let (watch, api) = open(engine, kind, ns, label_selector, since)?;
        out.write(into_handle(steady_watch {
            watch: Mutex::new(watch),
            kind: api.info().kind.clone(),
            api_version: api.info().api_version.clone(),
        }));
        Ok(())
    })
}

/// Waits for the next event of a watch.
///
/// - `timeout_ms`: how long to wait; 0 polls; a negative value waits without limit.
/// - On success `*out_event_json` is a new string owned by the caller (free with
///   `steady_string_free`): `{"type": "ADDED" | "MODIFIED" | "DELETED", "object": {..}}`, in
///   revision order with no gaps.
/// - `STEADY_TIMEOUT`: nothing happened in time (`*out_event_json` untouched); call again.
/// - `STEADY_EXPIRED`: the watch fell behind or asked for history the engine no longer has:
///   list again and start a new watch from the list's resourceVersion. `STEADY_CLOSED`: the
///   engine shut down. Both are final for this watch.
/// - Threads: any; calls on one watch are serialised (a second caller waits for the first).
///   Blocks the calling thread, holding no engine lock.
///
/// # Safety
/// `watch` is a live watch; `out_event_json` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn steady_watch_next(
    watch: *const steady_watch,
    timeout_ms: i64,
    out_event_json: *mut *mut c_char,
) -> steady_result {
    ffi_boundary!("steady_watch_next", {
        let out = Out::required(out_event_json, "out_event_json")?;
        let w = handle_arg(watch, "watch")?;
        let mut stream = w.watch.lock();
        let ev = match u64::try_from(timeout_ms) {
            Ok(ms) => stream.recv_timeout(Duration::from_millis(ms))?,
            Err(_) => Some(stream.recv()?),
        };
        match ev {
            Some(ev) => {
                out.write(c_string(json::event(&w.kind, &w.api_version, &ev)));
                Ok(())
            }
            None => Err(FfiError::new(
                steady_result::STEADY_TIMEOUT,
                format!("no {} event within {timeout_ms} ms", w.kind),
            )),
        }
    })
}

/// Stops a watch and frees it. NULL is a no-op.
///
/// - Threads: any, once no other thread uses the watch.
///
/// # Safety
/// `watch` is NULL or a watch from `steady_watch_new` not freed before.
#[no_mangle]
pub unsafe extern "C" fn steady_watch_free(watch: *mut steady_watch) {
    ffi_boundary!("steady_watch_free", or(), { free_handle(watch) })
}
