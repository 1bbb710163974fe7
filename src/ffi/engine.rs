//! `steady_engine`: create and free an engine; apply, get, list, create, update,
//! update_status, patch, delete and metrics.
//!
//! Every function here is a translation: C strings in, the engine's own call, JSON out.

use super::boundary::{
    c_string, ffi_boundary, free_handle, handle_arg, into_handle, json_arg, opt_str_arg, str_arg,
    CallbackScope, Out,
};
use super::result::{set_last_error, steady_result, FfiError};
use super::subscription::SubscriptionThread;
use super::worker::LiveWorkers;
use super::{config, json, kind, options};
use crate::api::Selector;
use crate::client::DynamicApi;
use crate::store::ListParams;
use crate::Engine;
use parking_lot::Mutex;
use serde_json::Value;
use std::ffi::c_char;
use std::sync::Arc;

/// A running engine (opaque). Made by `steady_engine_new`, freed by `steady_engine_free`.
///
/// Every function taking a `const steady_engine *` may be called from any thread, from
/// several threads at once, and from inside steady's callbacks.
pub struct steady_engine {
    pub(crate) engine: Engine,
    /// Threads of callback watches, joined when the engine is freed.
    pub(crate) subscriptions: Mutex<Vec<Arc<SubscriptionThread>>>,
    /// Host workers alive (registered, or still running an instance): freeing the engine
    /// waits for none to be left.
    pub(crate) workers: Arc<LiveWorkers>,
}

impl steady_engine {
    /// The Rust engine inside the handle, for Rust code sharing an engine with C (the
    /// benchmarks compare the two paths on one engine).
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The dynamic API for the kind named by the C string `kind`.
    ///
    /// # Safety
    /// As [`str_arg`].
    unsafe fn api(&self, kind: *const c_char) -> Result<DynamicApi, FfiError> {
        kind::resolve(&self.engine, str_arg(kind, "kind")?)
    }

    /// The dynamic API for the kind an object names (`apiVersion` and `kind` fields).
    pub(crate) fn api_of(&self, object: &Value) -> Result<DynamicApi, FfiError> {
        let field = |f: &str| {
            object.get(f).and_then(Value::as_str).ok_or_else(|| {
                FfiError::invalid(format!("object_json: {f} is required (a string)"))
            })
        };
        if !object.is_object() {
            return Err(FfiError::invalid(format!(
                "object_json: expected a JSON object, found {object}"
            )));
        }
        let (api_version, kind) = (field("apiVersion")?, field("kind")?);
        kind::resolve(&self.engine, &format!("{api_version}/{kind}"))
    }
}

/// The scoped API for `ns` (NULL: "default"; ignored for cluster-scoped kinds).
///
/// # Safety
/// As [`opt_str_arg`].
unsafe fn scoped(api: DynamicApi, ns: *const c_char) -> Result<DynamicApi, FfiError> {
    Ok(match opt_str_arg(ns, "ns")? {
        Some(ns) if api.info().namespaced => api.namespace(ns),
        _ => api,
    })
}

/// Starts an engine.
///
/// - `config_json`: a JSON object of settings, or NULL for the embedded default. Keys:
///   `workers` (controller threads, >= 1), `history_limit` (events kept per kind for
///   resuming watches), `watch_capacity` (events a watch may queue before it expires),
///   `max_object_bytes`, `shutdown_grace_ms` (how long freeing waits for running reconciles),
///   `kinds` (custom kinds registered ahead: `[{"apiVersion", "kind", "namespaced"}]`, for
///   cluster-scoped ones), `persist` (keep the state across restarts in a data dir:
///   `{"dir": "/path", "durability": "sync" | "interval:100ms", "snapshot_every": 10000}`;
///   `dir` required, `durability` `"sync"` by default: a write returns after its log record
///   is fsynced; `"interval:<n>ms"` returns at once and fsyncs at least every n ms, so a
///   crash loses at most that window), `etcd` (share the state with other engines in an etcd
///   cluster, builds with the `etcd` feature: `{"endpoints": ["http://127.0.0.1:2379"],
///   "prefix": "/steady"}`, also `user` and `password`, `ca_file`, `cert_file` and
///   `key_file`, `timeout_ms`). An unknown key or a bad value is `STEADY_INVALID` naming
///   the key.
/// - `STEADY_STORAGE` when the `persist` dir cannot be used: another engine holds it (the
///   message names its pid), a newer steady wrote it, or it cannot be read or written; and
///   when no member of the `etcd` cluster answers in time.
/// - On success `*out_engine` is a new engine owned by the caller: free it with
///   `steady_engine_free`.
/// - Threads: any.
///
/// # Safety
/// `config_json` is NULL or a NUL-terminated string; `out_engine` is NULL or valid for a
/// write.
#[no_mangle]
pub unsafe extern "C" fn steady_engine_new(
    config_json: *const c_char,
    out_engine: *mut *mut steady_engine,
) -> steady_result {
    ffi_boundary!("steady_engine_new", {
        let out = Out::required(out_engine, "out_engine")?;
        let builder = config::builder(opt_str_arg(config_json, "config_json")?)?;
        let engine = builder.build()?;
        out.write(into_handle(steady_engine {
            engine,
            subscriptions: Mutex::new(Vec::new()),
            workers: Arc::new(LiveWorkers::default()),
        }));
        Ok(())
    })
}

/// Shuts the engine down and frees it: controllers stop taking work, running reconciles get
/// the shutdown grace period, running workers are asked to stop (their stop callbacks run,
/// possibly on this thread) and get their pods' grace period, watches end with
/// `STEADY_CLOSED`, callback watches end, and every engine thread is joined. It then waits
/// until every worker start callback has returned (one that ignores the stop request keeps
/// it waiting). Userdata destructors of controllers, callback watches and workers run during
/// this call, on this thread or an engine thread: no callback runs after it returned. NULL
/// is a no-op.
///
/// - Threads: any thread except from inside a steady callback (which runs on a thread this
///   call joins): that call is refused, logged, and leaves the engine running (and its last
///   error set); free it later from another thread.
/// - `steady_watch` handles of this engine stay valid (they report `STEADY_CLOSED`) and must
///   still be freed.
///
/// # Safety
/// `engine` is NULL or an engine from `steady_engine_new` not freed before; no other thread
/// uses it during or after this call.
#[no_mangle]
pub unsafe extern "C" fn steady_engine_free(engine: *mut steady_engine) {
    ffi_boundary!("steady_engine_free", or(), {
        if engine.is_null() {
            return;
        }
        if CallbackScope::active() {
            let msg = "steady_engine_free called from inside a steady callback: refused (the \
                       engine keeps running); free it from another thread";
            log::error!("{msg}");
            set_last_error(msg);
            return;
        }
        // SAFETY: a live engine per the caller's contract.
        let e = unsafe { &*engine };
        e.engine.shutdown();
        // Shutdown closed every watch, so each callback-watch thread is finishing. A callback
        // may have started another subscription just before the watches closed: it is in
        // the list once its creator is joined, so drain until nothing is left.
        loop {
            let subs: Vec<_> = e.subscriptions.lock().drain(..).collect();
            if subs.is_empty() {
                break;
            }
            for s in subs {
                s.join();
            }
        }
        let workers = e.workers.clone();
        // Dropping the engine drops its worker registry; instances still running hold their
        // worker until their start callback returns.
        free_handle(engine);
        workers.wait_none_left();
    })
}

/// Applies a manifest: YAML or JSON, one or many documents, all-or-nothing, with `kubectl
/// apply` semantics.
///
/// - On success, if `out_report_json` is not NULL, `*out_report_json` is a new string owned by
///   the caller (free with `steady_string_free`): `{"objects": [{"kind", "namespace",
///   "name", "action": "created" | "configured" | "unchanged", "resourceVersion"}],
///   "warnings": [..]}`.
/// - Errors: `STEADY_INVALID` (parse error or invalid object; the message names the document,
///   line and field), `STEADY_CONFLICT`, `STEADY_TOO_LARGE`, `STEADY_DENIED`, `STEADY_CLOSED`,
///   `STEADY_NULL_PARAMETER` (`engine` or `manifest`), `STEADY_INVALID_UTF8` (`manifest`).
/// - Threads: any, concurrently; also from inside callbacks.
///
/// # Safety
/// `engine` is a live engine; `manifest` a NUL-terminated string; `out_report_json` NULL or
/// valid for a write.
#[no_mangle]
pub unsafe extern "C" fn steady_engine_apply(
    engine: *const steady_engine,
    manifest: *const c_char,
    out_report_json: *mut *mut c_char,
) -> steady_result {
    ffi_boundary!("steady_engine_apply", {
        let out = Out::optional(out_report_json);
        let e = handle_arg(engine, "engine")?;
        let report = e.engine.apply(str_arg(manifest, "manifest")?)?;
        if let Some(out) = out {
            out.write(c_string(json::apply_report(&report)));
        }
        Ok(())
    })
}

/// Reads one object.
///
/// - `kind`: `"Pod"` (a built-in kind) or `"apiVersion/Kind"` (`"example.com/v1/Widget"`,
///   any kind). `ns`: the namespace, NULL for `"default"`; ignored for cluster-scoped kinds.
/// - On success `*out_json` is a new string owned by the caller (free with
///   `steady_string_free`): the object as JSON.
/// - Errors: `STEADY_NOT_FOUND`, `STEADY_INVALID` (unknown kind), `STEADY_NULL_PARAMETER`
///   (`engine`, `kind`, `name`, `out_json`), `STEADY_INVALID_UTF8` (`kind`, `ns`, `name`).
/// - Threads: any, concurrently; also from inside callbacks.
///
/// # Safety
/// `engine` is a live engine; strings are NULL or NUL-terminated; `out_json` NULL or valid
/// for a write.
#[no_mangle]
pub unsafe extern "C" fn steady_engine_get(
    engine: *const steady_engine,
    kind: *const c_char,
    ns: *const c_char,
    name: *const c_char,
    out_json: *mut *mut c_char,
) -> steady_result {
    ffi_boundary!("steady_engine_get", {
        let out = Out::required(out_json, "out_json")?;
        let e = handle_arg(engine, "engine")?;
        let api = scoped(e.api(kind)?, ns)?;
        let o = api.get(str_arg(name, "name")?)?;
        out.write(c_string(json::object(o.as_ref())));
        Ok(())
    })
}

/// Lists the objects of a kind at one revision, sorted by namespace and name.
///
/// - `ns`: one namespace, or NULL for all. `label_selector`: Kubernetes selector syntax
///   (`"app=web,tier!=db"`, `"env in (a,b)"`), or NULL for all.
/// - On success `*out_json` is a new string owned by the caller (free with
///   `steady_string_free`): `{"apiVersion", "kind": "<Kind>List", "metadata":
///   {"resourceVersion"}, "items": [..]}`. Watch from `metadata.resourceVersion` to follow on
///   without a gap.
/// - Errors: `STEADY_INVALID` (unknown kind, bad selector), `STEADY_NULL_PARAMETER`
///   (`engine`, `kind`, `out_json`), `STEADY_INVALID_UTF8` (`kind`, `ns`,
///   `label_selector`).
/// - Threads: any, concurrently; also from inside callbacks.
///
/// # Safety
/// As `steady_engine_get`.
#[no_mangle]
pub unsafe extern "C" fn steady_engine_list(
    engine: *const steady_engine,
    kind: *const c_char,
    ns: *const c_char,
    label_selector: *const c_char,
    out_json: *mut *mut c_char,
) -> steady_result {
    ffi_boundary!("steady_engine_list", {
        let out = Out::required(out_json, "out_json")?;
        let e = handle_arg(engine, "engine")?;
        let api = e.api(kind)?;
        let params = ListParams {
            namespace: opt_str_arg(ns, "ns")?.map(str::to_string),
            selector: selector(opt_str_arg(label_selector, "label_selector")?)?,
            ..Default::default()
        };
        let (items, revision) = api.list(&params)?;
        let items = items.iter().map(|o| o.as_ref() as &dyn crate::api::Object);
        out.write(c_string(json::list(api.info(), items, revision)));
        Ok(())
    })
}

/// A parsed label selector, `None` for no filter.
pub(crate) fn selector(text: Option<&str>) -> Result<Option<Selector>, FfiError> {
    text.map(|s| Selector::parse(s).map_err(|e| FfiError::invalid(e.to_string())))
        .transpose()
}

/// Which write `write_object` makes.
#[derive(Clone, Copy)]
enum Write {
    Create,
    Update,
    UpdateStatus,
}

/// The shared body of create, update and update_status.
///
/// # Safety
/// As `steady_engine_create`.
unsafe fn write_object(
    engine: *const steady_engine,
    object_json: *const c_char,
    out_json: *mut *mut c_char,
    write: Write,
) -> Result<(), FfiError> {
    let out = Out::optional(out_json);
    let e = handle_arg(engine, "engine")?;
    let value = json_arg(object_json, "object_json")?;
    let api = e.api_of(&value)?;
    let o = match write {
        Write::Create => api.create(value)?,
        Write::Update => api.update(value)?,
        Write::UpdateStatus => api.update_status(value)?,
    };
    if let Some(out) = out {
        out.write(c_string(json::object(o.as_ref())));
    }
    Ok(())
}

/// Creates an object. Its kind is the object's `apiVersion` and `kind` (a kind not known yet
/// becomes a custom kind); its namespace `metadata.namespace`, default `"default"`. A
/// `status` is ignored (set it with `steady_engine_update_status`).
///
/// - On success, if `out_json` is not NULL, `*out_json` is a new string owned by the caller
///   (free with `steady_string_free`): the object as stored (uid, resourceVersion,
///   creationTimestamp set).
/// - Errors: `STEADY_ALREADY_EXISTS`, `STEADY_INVALID` (malformed JSON, missing
///   apiVersion/kind, invalid fields: each named), `STEADY_TOO_LARGE`, `STEADY_DENIED`,
///   `STEADY_NULL_PARAMETER` (`engine`, `object_json`), `STEADY_INVALID_UTF8`
///   (`object_json`).
/// - Threads: any, concurrently; also from inside callbacks.
///
/// # Safety
/// `engine` is a live engine; `object_json` NULL or NUL-terminated; `out_json` NULL or valid
/// for a write.
#[no_mangle]
pub unsafe extern "C" fn steady_engine_create(
    engine: *const steady_engine,
    object_json: *const c_char,
    out_json: *mut *mut c_char,
) -> steady_result {
    ffi_boundary!("steady_engine_create", {
        write_object(engine, object_json, out_json, Write::Create)
    })
}

/// Replaces an object's spec and metadata (its status is kept). With
/// `metadata.resourceVersion` set, a compare-and-swap: `STEADY_CONFLICT` when the object
/// changed since.
///
/// - Output and threads as `steady_engine_create`.
/// - Errors: `STEADY_NOT_FOUND`, `STEADY_CONFLICT`, `STEADY_INVALID`, `STEADY_TOO_LARGE`,
///   `STEADY_DENIED`, `STEADY_NULL_PARAMETER` (`engine`, `object_json`),
///   `STEADY_INVALID_UTF8` (`object_json`).
///
/// # Safety
/// As `steady_engine_create`.
#[no_mangle]
pub unsafe extern "C" fn steady_engine_update(
    engine: *const steady_engine,
    object_json: *const c_char,
    out_json: *mut *mut c_char,
) -> steady_result {
    ffi_boundary!("steady_engine_update", {
        write_object(engine, object_json, out_json, Write::Update)
    })
}

/// Replaces an object's status (the status subresource: nothing else changes).
/// Compare-and-swap as `steady_engine_update`.
///
/// - Output, errors and threads as `steady_engine_update`.
///
/// # Safety
/// As `steady_engine_create`.
#[no_mangle]
pub unsafe extern "C" fn steady_engine_update_status(
    engine: *const steady_engine,
    object_json: *const c_char,
    out_json: *mut *mut c_char,
) -> steady_result {
    ffi_boundary!("steady_engine_update_status", {
        write_object(engine, object_json, out_json, Write::UpdateStatus)
    })
}

/// Applies a JSON merge patch (RFC 7386) to an object's spec and metadata, or with `status`
/// true to its status. Retried on conflicting concurrent writes.
///
/// - `kind` and `ns` as `steady_engine_get`.
/// - On success, if `out_json` is not NULL, `*out_json` is a new string owned by the caller
///   (free with `steady_string_free`): the patched object.
/// - Errors: `STEADY_NOT_FOUND`, `STEADY_INVALID` (malformed patch, invalid result),
///   `STEADY_TOO_LARGE`, `STEADY_DENIED`, `STEADY_NULL_PARAMETER` (`engine`, `kind`, `name`,
///   `patch_json`), `STEADY_INVALID_UTF8` (each string argument).
/// - Threads: any, concurrently; also from inside callbacks.
///
/// # Safety
/// `engine` is a live engine; strings NULL or NUL-terminated; `out_json` NULL or valid for a
/// write.
#[no_mangle]
pub unsafe extern "C" fn steady_engine_patch(
    engine: *const steady_engine,
    kind: *const c_char,
    ns: *const c_char,
    name: *const c_char,
    patch_json: *const c_char,
    status: bool,
    out_json: *mut *mut c_char,
) -> steady_result {
    ffi_boundary!("steady_engine_patch", {
        let out = Out::optional(out_json);
        let e = handle_arg(engine, "engine")?;
        let api = scoped(e.api(kind)?, ns)?;
        let name = str_arg(name, "name")?;
        let patch = json_arg(patch_json, "patch_json")?;
        let o = api.patch(name, &patch, status)?;
        if let Some(out) = out {
            out.write(c_string(json::object(o.as_ref())));
        }
        Ok(())
    })
}

/// Deletes an object. With finalizers (or `Foreground`/`Orphan` propagation) it is only
/// marked with a `deletionTimestamp` and goes when its finalizers are removed.
///
/// - `kind` and `ns` as `steady_engine_get`. `options_json`: NULL or Kubernetes
///   DeleteOptions: `{"propagationPolicy": "Background" | "Foreground" | "Orphan",
///   "preconditions": {"uid", "resourceVersion"}, "gracePeriodSeconds": n}`.
/// - On success, if `out_json` is not NULL, `*out_json` is a new string owned by the caller
///   (free with `steady_string_free`): the object's last state (marked for deletion if it
///   stays).
/// - Errors: `STEADY_NOT_FOUND`, `STEADY_CONFLICT` (a precondition failed), `STEADY_INVALID`
///   (bad options), `STEADY_NULL_PARAMETER` (`engine`, `kind`, `name`),
///   `STEADY_INVALID_UTF8` (each string argument).
/// - Threads: any, concurrently; also from inside callbacks.
///
/// # Safety
/// As `steady_engine_patch`.
#[no_mangle]
pub unsafe extern "C" fn steady_engine_delete(
    engine: *const steady_engine,
    kind: *const c_char,
    ns: *const c_char,
    name: *const c_char,
    options_json: *const c_char,
    out_json: *mut *mut c_char,
) -> steady_result {
    ffi_boundary!("steady_engine_delete", {
        let out = Out::optional(out_json);
        let e = handle_arg(engine, "engine")?;
        let api = scoped(e.api(kind)?, ns)?;
        let name = str_arg(name, "name")?;
        let params = options::delete_params(opt_str_arg(options_json, "options_json")?)?;
        let deleted = api.delete(name, &params)?;
        if let Some(out) = out {
            out.write(c_string(json::object(deleted.object().as_ref())));
        }
        Ok(())
    })
}

/// The engine's metrics in the Prometheus text format (controller-runtime's names:
/// `controller_runtime_reconcile_total{controller,result}`, `workqueue_depth`, ...).
///
/// - On success `*out_text` is a new string owned by the caller (free with
///   `steady_string_free`).
/// - Threads: any, concurrently; also from inside callbacks.
///
/// # Safety
/// `engine` is a live engine; `out_text` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn steady_engine_metrics(
    engine: *const steady_engine,
    out_text: *mut *mut c_char,
) -> steady_result {
    ffi_boundary!("steady_engine_metrics", {
        let out = Out::required(out_text, "out_text")?;
        let e = handle_arg(engine, "engine")?;
        let text = crate::runtime::render_prometheus(&e.engine.metrics());
        out.write(c_string(text.into_bytes()));
        Ok(())
    })
}

/// What the engine found in its data dir when it started (configuration key `persist`), as
/// JSON: `{"dir", "fresh": bool, "snapshotRevision": n | null, "snapshotObjects",
/// "recordsReplayed", "revision", "durationMs", "skippedSnapshots": [{"file", "reason"}],
/// "truncation": null | {"segment", "offset", "bytes", "reason", "droppedSegments": [...]},
/// "lostData": bool, "message"}`. `truncation` says where a torn or corrupt log was cut;
/// `lostData` is true when more than a torn last record was dropped.
///
/// - On success `*out_json` is a new string owned by the caller (free with
///   `steady_string_free`).
/// - `STEADY_NOT_FOUND` when the engine does not persist its state.
/// - Threads: any, concurrently.
///
/// # Safety
/// `engine` is a live engine; `out_json` valid for a write.
#[no_mangle]
pub unsafe extern "C" fn steady_engine_recovery_report(
    engine: *const steady_engine,
    out_json: *mut *mut c_char,
) -> steady_result {
    ffi_boundary!("steady_engine_recovery_report", {
        let out = Out::required(out_json, "out_json")?;
        let e = handle_arg(engine, "engine")?;
        match e.engine.recovery_report() {
            Some(r) => {
                out.write(c_string(json::recovery_report(r)));
                Ok(())
            }
            None => Err(FfiError::new(
                steady_result::STEADY_NOT_FOUND,
                "the engine keeps no state across restarts: set \"persist\" in its configuration",
            )),
        }
    })
}

/// The kubeconfig of the engine's Kubernetes API server (configuration key `api_server`):
/// its URL, CA and token, as YAML for `kubectl` (`KUBECONFIG=...`).
///
/// - On success `*out_yaml` is a new string owned by the caller (free with
///   `steady_string_free`); it holds the token: keep it private.
/// - `STEADY_NOT_FOUND` when the engine does not serve the API (or this build of steady
///   lacks the `apiserver` feature).
/// - Threads: any, concurrently.
///
/// # Safety
/// `engine` is a live engine; `out_yaml` valid for a write.
#[no_mangle]
pub unsafe extern "C" fn steady_engine_kubeconfig(
    engine: *const steady_engine,
    out_yaml: *mut *mut c_char,
) -> steady_result {
    ffi_boundary!("steady_engine_kubeconfig", {
        let out = Out::required(out_yaml, "out_yaml")?;
        let e = handle_arg(engine, "engine")?;
        #[cfg(feature = "apiserver")]
        if let Some(api) = e.engine.api_server() {
            out.write(c_string(api.kubeconfig().into_bytes()));
            return Ok(());
        }
        let _ = (e, out);
        Err(FfiError::new(
            steady_result::STEADY_NOT_FOUND,
            "the engine does not serve the Kubernetes API: set \"api_server\" in its configuration",
        ))
    })
}
