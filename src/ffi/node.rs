//! What the node layer offers a host: the engine's node names (where a pod without a
//! scheduler names its node), the output of a pod's containers, and Service resolution.

use super::boundary::{c_string, ffi_boundary, handle_arg, opt_str_arg, str_arg, Out};
use super::engine::steady_engine;
use super::result::steady_result;
use std::ffi::c_char;

/// The names of the nodes this engine runs, as a JSON array of strings, sorted (the
/// embedded default has one local node, named after the host). A pod runs on one of them
/// when its `spec.nodeName` names it.
///
/// - On success `*out_json` is a new string owned by the caller (free with
///   `steady_string_free`): `["host-1"]`.
/// - Errors: `STEADY_NULL_PARAMETER`.
/// - Threads: any, concurrently; also from inside callbacks.
///
/// # Safety
/// `engine` is a live engine; `out_json` NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn steady_engine_node_names(
    engine: *const steady_engine,
    out_json: *mut *mut c_char,
) -> steady_result {
    ffi_boundary!("steady_engine_node_names", {
        let out = Out::required(out_json, "out_json")?;
        let e = handle_arg(engine, "engine")?;
        let names = e.engine.kubelet().node_names();
        let json = serde_json::to_vec(&names).expect("strings serialize");
        out.write(c_string(json));
        Ok(())
    })
}

/// The output of a container of a pod running on this engine's nodes (`kubectl logs`): the
/// lines its worker logged (`steady_worker_log`, and the failure message of a failed exit)
/// or its process wrote, up to the kubelet's per-instance limit (the oldest lines go first).
///
/// - `ns`: NULL for `"default"`. `container`: NULL for a pod with one container.
///   `previous`: the instance before the last restart instead of the current one.
/// - On success `*out_text` is a new string owned by the caller (free with
///   `steady_string_free`).
/// - Errors: `STEADY_NOT_FOUND` (no such pod on this engine's nodes, or not started yet),
///   `STEADY_INVALID` (no such container, a container name is needed, the container has not
///   started, or there is no previous instance; the message says which).
/// - Threads: any, concurrently; also from inside callbacks.
///
/// # Safety
/// `engine` is a live engine; strings NULL or NUL-terminated; `out_text` NULL or valid for
/// a write.
#[no_mangle]
pub unsafe extern "C" fn steady_engine_logs(
    engine: *const steady_engine,
    ns: *const c_char,
    pod: *const c_char,
    container: *const c_char,
    previous: bool,
    out_text: *mut *mut c_char,
) -> steady_result {
    ffi_boundary!("steady_engine_logs", {
        let out = Out::required(out_text, "out_text")?;
        let e = handle_arg(engine, "engine")?;
        let ns = opt_str_arg(ns, "ns")?.unwrap_or("default");
        let pod = str_arg(pod, "pod")?;
        let container = opt_str_arg(container, "container")?;
        let text = e.engine.logs(ns, pod, container, previous)?;
        out.write(c_string(text.into_bytes()));
        Ok(())
    })
}

/// One ready endpoint of a Service, as `"ip:port"` (`"[ip]:port"` for IPv6), taking turns
/// among its ready pods: how a host routes work to healthy workers.
///
/// - `ns`: NULL for `"default"`. `port`: the name of one of the Service's ports, or NULL for
///   its first port.
/// - On success `*out_address` is a new string owned by the caller (free with
///   `steady_string_free`).
/// - Errors: `STEADY_NOT_FOUND` (no such Service), `STEADY_UNAVAILABLE` (no ready endpoint
///   now: try again later), `STEADY_INVALID` (the Service has no port of that name).
/// - Threads: any, concurrently; also from inside callbacks.
///
/// # Safety
/// `engine` is a live engine; strings NULL or NUL-terminated; `out_address` NULL or valid
/// for a write.
#[no_mangle]
pub unsafe extern "C" fn steady_engine_resolve(
    engine: *const steady_engine,
    ns: *const c_char,
    service: *const c_char,
    port: *const c_char,
    out_address: *mut *mut c_char,
) -> steady_result {
    ffi_boundary!("steady_engine_resolve", {
        let out = Out::required(out_address, "out_address")?;
        let e = handle_arg(engine, "engine")?;
        let ns = opt_str_arg(ns, "ns")?.unwrap_or("default");
        let service = str_arg(service, "service")?;
        let port = opt_str_arg(port, "port")?;
        let address = e.engine.resolve(ns, service, port)?;
        out.write(c_string(address.to_string().into_bytes()));
        Ok(())
    })
}

/// Reports the custom metric `name` of pod `ns/pod` (a plain number, e.g. requests per
/// second): what HorizontalPodAutoscalers with a `Pods` metric of that name average and
/// compare with `target.averageValue`. Replaces the previous value; kept until the pod is
/// gone.
///
/// - `ns`: NULL for `"default"`.
/// - Errors: `STEADY_NULL_PARAMETER`, `STEADY_INVALID` (`value` is not finite).
/// - Threads: any, concurrently; also from inside callbacks.
///
/// # Safety
/// `engine` is a live engine; strings NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn steady_engine_report_pod_metric(
    engine: *const steady_engine,
    ns: *const c_char,
    pod: *const c_char,
    name: *const c_char,
    value: f64,
) -> steady_result {
    ffi_boundary!("steady_engine_report_pod_metric", {
        let e = handle_arg(engine, "engine")?;
        let ns = opt_str_arg(ns, "ns")?.unwrap_or("default");
        let pod = str_arg(pod, "pod")?;
        let name = str_arg(name, "name")?;
        if !value.is_finite() {
            return Err(super::result::FfiError::invalid(format!(
                "metric {name:?} of pod {ns}/{pod}: value {value} is not a finite number"
            )));
        }
        e.engine.report_pod_metric(ns, pod, name, value);
        Ok(())
    })
}

/// Reports the usage of `resource` by pod `ns/pod` as a Kubernetes quantity (`cpu` in
/// cores, `"250m"`; `memory` in bytes, `"128Mi"`), read by `Resource` metrics of
/// HorizontalPodAutoscalers; it takes precedence over what the node agent measures.
///
/// - `ns`: NULL for `"default"`.
/// - Errors: `STEADY_NULL_PARAMETER`, `STEADY_INVALID` (`usage` is not a quantity).
/// - Threads: any, concurrently; also from inside callbacks.
///
/// # Safety
/// `engine` is a live engine; strings NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn steady_engine_report_pod_usage(
    engine: *const steady_engine,
    ns: *const c_char,
    pod: *const c_char,
    resource: *const c_char,
    usage: *const c_char,
) -> steady_result {
    ffi_boundary!("steady_engine_report_pod_usage", {
        let e = handle_arg(engine, "engine")?;
        let ns = opt_str_arg(ns, "ns")?.unwrap_or("default");
        let pod = str_arg(pod, "pod")?;
        let resource = str_arg(resource, "resource")?;
        let usage = str_arg(usage, "usage")?;
        let q = crate::api::Quantity::parse(usage).map_err(|err| {
            super::result::FfiError::invalid(format!(
                "usage of {resource} by pod {ns}/{pod}: {err}"
            ))
        })?;
        e.engine.report_pod_usage(ns, pod, resource, &q);
        Ok(())
    })
}
