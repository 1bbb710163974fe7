//! Evictions and node maintenance for C hosts: `steady_engine_evict` (the eviction path
//! that honours PodDisruptionBudgets), `steady_engine_cordon`, `steady_engine_uncordon`
//! and `steady_engine_drain`. Thin wrappers over [`crate::client::Api::evict`] and
//! [`crate::engine::maintenance`].

use super::boundary::{c_string, ffi_boundary, handle_arg, opt_str_arg, parse_json, str_arg, Out};
use super::engine::steady_engine;
use super::options;
use super::result::{steady_result, FfiError};
use crate::api::Pod;
use crate::engine::DrainOptions;
use std::ffi::c_char;
use std::time::Duration;

/// Evicts a pod, as Kubernetes' `pods/eviction` subresource: it is deleted only if its
/// PodDisruptionBudget allows it, and the budget is charged in the same write.
///
/// - `ns`: NULL for `"default"`. `options_json`: NULL or DeleteOptions, as
///   `steady_engine_delete` (preconditions, `gracePeriodSeconds`).
/// - On success, if `out_json` is not NULL, `*out_json` is a new string owned by the caller
///   (free with `steady_string_free`): the pod's last state (marked for deletion while it
///   terminates).
/// - Errors: `STEADY_UNAVAILABLE` (a budget does not allow it now; the message is
///   Kubernetes' "Cannot evict pod as it would violate the pod's disruption budget." and
///   what the budget needs: try again later), `STEADY_DENIED` (more than one budget selects
///   the pod, or the budget forbids evictions), `STEADY_NOT_FOUND`, `STEADY_CONFLICT` (a
///   precondition failed), `STEADY_INVALID` (bad options), `STEADY_NULL_PARAMETER`
///   (`engine`, `name`), `STEADY_INVALID_UTF8` (each string argument).
/// - Threads: any, concurrently; also from inside callbacks.
///
/// # Safety
/// `engine` is a live engine; strings NULL or NUL-terminated; `out_json` NULL or valid for
/// a write.
#[no_mangle]
pub unsafe extern "C" fn steady_engine_evict(
    engine: *const steady_engine,
    ns: *const c_char,
    name: *const c_char,
    options_json: *const c_char,
    out_json: *mut *mut c_char,
) -> steady_result {
    ffi_boundary!("steady_engine_evict", {
        let out = Out::optional(out_json);
        let e = handle_arg(engine, "engine")?;
        let name = str_arg(name, "name")?;
        let ns = opt_str_arg(ns, "ns")?.unwrap_or("default");
        let params = options::delete_params(opt_str_arg(options_json, "options_json")?)?;
        let deleted = e.engine.api::<Pod>().namespace(ns).evict(name, &params)?;
        if let Some(out) = out {
            out.write(c_string(super::json::object(deleted.object().as_ref())));
        }
        Ok(())
    })
}

/// Marks a node unschedulable (`kubectl cordon`): no new pod is placed there.
///
/// - Errors: `STEADY_NOT_FOUND` (no such node), `STEADY_NULL_PARAMETER` (`engine`, `node`),
///   `STEADY_INVALID_UTF8` (`node`).
/// - Threads: any, concurrently; also from inside callbacks.
///
/// # Safety
/// `engine` is a live engine; `node` NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn steady_engine_cordon(
    engine: *const steady_engine,
    node: *const c_char,
) -> steady_result {
    ffi_boundary!("steady_engine_cordon", {
        let e = handle_arg(engine, "engine")?;
        e.engine.cordon(str_arg(node, "node")?)?;
        Ok(())
    })
}

/// Makes a cordoned node schedulable again (`kubectl uncordon`).
///
/// - Errors: as `steady_engine_cordon`.
/// - Threads: any, concurrently; also from inside callbacks.
///
/// # Safety
/// As `steady_engine_cordon`.
#[no_mangle]
pub unsafe extern "C" fn steady_engine_uncordon(
    engine: *const steady_engine,
    node: *const c_char,
) -> steady_result {
    ffi_boundary!("steady_engine_uncordon", {
        let e = handle_arg(engine, "engine")?;
        e.engine.uncordon(str_arg(node, "node")?)?;
        Ok(())
    })
}

/// Drain options: `{"timeoutSeconds": n, "retryIntervalSeconds": n, "gracePeriodSeconds":
/// n}`, each optional (defaults 300, 5 and each pod's own).
fn drain_options(text: Option<&str>) -> Result<DrainOptions, FfiError> {
    const WHAT: &str = "drain options";
    let mut o = DrainOptions::default();
    let Some(text) = text else { return Ok(o) };
    let v = parse_json(text, WHAT)?;
    let map = v
        .as_object()
        .ok_or_else(|| FfiError::invalid(format!("{WHAT}: expected a JSON object, found {v}")))?;
    for (key, v) in map {
        let n = v.as_f64().filter(|n| *n >= 0.0).ok_or_else(|| {
            FfiError::invalid(format!(
                "{WHAT}: {key:?}: expected a number >= 0, found {v}"
            ))
        })?;
        match key.as_str() {
            "timeoutSeconds" => o.timeout = Duration::from_secs_f64(n),
            "retryIntervalSeconds" => o.retry_interval = Duration::from_secs_f64(n),
            "gracePeriodSeconds" => o.grace_period_seconds = Some(n as i64),
            _ => {
                return Err(FfiError::invalid(format!(
                    "{WHAT}: unknown key {key:?} (known keys: timeoutSeconds, \
                     retryIntervalSeconds, gracePeriodSeconds)"
                )))
            }
        }
    }
    Ok(o)
}

/// Drains a node (`kubectl drain`): cordons it, evicts every pod on it but DaemonSet pods
/// through the eviction path (PodDisruptionBudgets honoured: an eviction a budget refuses
/// is retried until the timeout), and waits for the evicted pods to be gone. Blocks until
/// then.
///
/// - `options_json`: NULL or `{"timeoutSeconds": n, "retryIntervalSeconds": n,
///   "gracePeriodSeconds": n}` (defaults 300, 5 and each pod's own; on the engine clock).
/// - On success, if `out_json` is not NULL, `*out_json` is a new string owned by the caller
///   (free with `steady_string_free`): `{"evicted": [{"namespace", "name"}], "skipped":
///   [{"namespace", "name", "reason"}], "failed": [{"namespace", "name", "reason"}]}`. A
///   drain that could not evict everything still succeeds: `failed` says what is left.
/// - Errors: `STEADY_NOT_FOUND` (no such node), `STEADY_INVALID` (bad options),
///   `STEADY_CLOSED` (the engine shut down meanwhile), `STEADY_NULL_PARAMETER` (`engine`,
///   `node`), `STEADY_INVALID_UTF8` (`node`, `options_json`).
/// - Threads: any, concurrently; not from inside a host controller's reconcile or a worker
///   callback (it waits for pods to terminate, which may need that thread).
///
/// # Safety
/// `engine` is a live engine; strings NULL or NUL-terminated; `out_json` NULL or valid for
/// a write.
#[no_mangle]
pub unsafe extern "C" fn steady_engine_drain(
    engine: *const steady_engine,
    node: *const c_char,
    options_json: *const c_char,
    out_json: *mut *mut c_char,
) -> steady_result {
    ffi_boundary!("steady_engine_drain", {
        let out = Out::optional(out_json);
        let e = handle_arg(engine, "engine")?;
        let node = str_arg(node, "node")?;
        let options = drain_options(opt_str_arg(options_json, "options_json")?)?;
        let report = e.engine.drain(node, &options)?;
        if let Some(out) = out {
            out.write(c_string(
                serde_json::to_vec(&report.to_value()).expect("JSON values serialize"),
            ));
        }
        Ok(())
    })
}
