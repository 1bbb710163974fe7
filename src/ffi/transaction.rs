//! `steady_engine_transaction`: several writes committed together under one revision, or
//! none (the store's transaction), described as a JSON array of operations.
//!
//! ```json
//! [{"op": "create", "object": {..}},
//!  {"op": "update", "object": {..}},
//!  {"op": "updateStatus", "object": {..}},
//!  {"op": "delete", "kind": "Pod", "namespace": "default", "name": "web-1",
//!   "options": {"preconditions": {"resourceVersion": "42"}}},
//!  {"op": "check", "kind": "example.com/v1/Widget", "name": "a", "resourceVersion": "17"}]
//! ```

use super::boundary::{c_string, ffi_boundary, handle_arg, parse_json, str_arg, Out};
use super::engine::steady_engine;
use super::json::write_object;
use super::result::{steady_result, FfiError};
use super::{kind, options};
use crate::store::TxnOp;
use serde_json::{Map, Value};
use std::ffi::c_char;

/// The operation names, in the order error messages list them.
const OPS: &str = "create, update, updateStatus, delete, check";

/// The keys each operation takes.
fn keys(op: &str) -> &'static [&'static str] {
    match op {
        "create" | "update" | "updateStatus" => &["op", "object"],
        "delete" => &["op", "kind", "namespace", "name", "options"],
        _ => &["op", "kind", "namespace", "name", "resourceVersion"],
    }
}

/// Parses one operation (`at` is `ops_json[i]`, for messages).
fn op(e: &steady_engine, at: &str, v: &Value) -> Result<TxnOp, FfiError> {
    let bad = |msg: String| FfiError::invalid(format!("{at}: {msg}"));
    let m: &Map<String, Value> = v
        .as_object()
        .ok_or_else(|| bad(format!("expected a JSON object, found {v}")))?;
    let name = m
        .get("op")
        .and_then(Value::as_str)
        .ok_or_else(|| bad(format!("\"op\" is required: one of {OPS}")))?;
    if !matches!(
        name,
        "create" | "update" | "updateStatus" | "delete" | "check"
    ) {
        return Err(bad(format!("\"op\": {name:?} is not one of {OPS}")));
    }
    if let Some(k) = m.keys().find(|k| !keys(name).contains(&k.as_str())) {
        return Err(bad(format!(
            "unknown key {k:?} for op {name:?} (known keys: {})",
            keys(name).join(", ")
        )));
    }
    let string = |key: &str| -> Result<Option<&str>, FfiError> {
        match m.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(bad(format!("{key:?}: expected a string, found {other}"))),
        }
    };
    if let "create" | "update" | "updateStatus" = name {
        let object = m
            .get("object")
            .ok_or_else(|| bad("\"object\" is required".into()))?
            .clone();
        let o = e
            .api_of(&object)
            .map_err(|err| {
                let why = err.message.trim_start_matches("object_json: ");
                FfiError::invalid(format!("{at}.object: {why}"))
            })?
            .decode(object)?;
        return Ok(match name {
            "create" => TxnOp::Create(o),
            "update" => TxnOp::Update(o),
            _ => TxnOp::UpdateStatus(o),
        });
    }
    let kind = string("kind")?.ok_or_else(|| bad("\"kind\" is required".into()))?;
    let api = kind::resolve(&e.engine, kind).map_err(|err| bad(err.message))?;
    let info = api.info();
    let object_name = string("name")?.ok_or_else(|| bad("\"name\" is required".into()))?;
    let namespace = info
        .namespaced
        .then(|| Ok::<_, FfiError>(string("namespace")?.unwrap_or("default").to_string()))
        .transpose()?;
    if name == "delete" {
        let params = match m.get("options") {
            None | Some(Value::Null) => Default::default(),
            Some(o) => options::delete_params(Some(&o.to_string()))
                .map_err(|err| bad(format!("\"options\": {}", err.message)))?,
        };
        return Ok(TxnOp::Delete {
            kind: info.kind.clone(),
            namespace,
            name: object_name.to_string(),
            params,
        });
    }
    if !m.contains_key("resourceVersion") {
        return Err(bad(
            "\"resourceVersion\" is required: the version the object must be at, or null for \
             \"must not exist\""
                .into(),
        ));
    }
    Ok(TxnOp::Check {
        kind: info.kind.clone(),
        namespace,
        name: object_name.to_string(),
        resource_version: string("resourceVersion")?.map(str::to_string),
    })
}

/// Commits several writes atomically under one revision: every operation commits, or none
/// does. Each operation's preconditions are checked at commit time: an `update` or
/// `updateStatus` whose object carries `metadata.resourceVersion` is a compare-and-swap;
/// `delete` takes DeleteOptions preconditions; `check` writes nothing but requires the
/// object to be at `resourceVersion` (or, with `null`, not to exist). Watchers see the
/// writes together, in the order given.
///
/// - `ops_json`: a JSON array of operations, each object touched at most once:
///   `{"op": "create" | "update" | "updateStatus", "object": {..}}` (the kind from the
///   object's apiVersion and kind, as `steady_engine_create`);
///   `{"op": "delete", "kind", "namespace", "name", "options": DeleteOptions}`;
///   `{"op": "check", "kind", "namespace", "name", "resourceVersion": "17" | null}`.
///   `kind` as `steady_engine_get`; `namespace` defaults to `"default"`; `options` may be
///   left out.
/// - On success, if `out_json` is not NULL, `*out_json` is a new string owned by the caller
///   (free with `steady_string_free`): a JSON array with, per operation, the object written
///   (for `delete` its last state; for `check` the object checked, or null).
/// - Errors: `STEADY_CONFLICT` (a resourceVersion or uid precondition failed: read again and
///   retry), `STEADY_NOT_FOUND`, `STEADY_ALREADY_EXISTS`, `STEADY_INVALID` (malformed
///   operations, named as `ops_json[i]`, an empty array, or an invalid object),
///   `STEADY_TOO_LARGE`, `STEADY_DENIED`, `STEADY_NULL_PARAMETER` (`engine`, `ops_json`),
///   `STEADY_INVALID_UTF8` (`ops_json`). Nothing was written.
/// - Threads: any, concurrently; also from inside callbacks.
///
/// # Safety
/// `engine` is a live engine; `ops_json` NULL or NUL-terminated; `out_json` NULL or valid
/// for a write.
#[no_mangle]
pub unsafe extern "C" fn steady_engine_transaction(
    engine: *const steady_engine,
    ops_json: *const c_char,
    out_json: *mut *mut c_char,
) -> steady_result {
    ffi_boundary!("steady_engine_transaction", {
        let out = Out::optional(out_json);
        let e = handle_arg(engine, "engine")?;
        let value = parse_json(str_arg(ops_json, "ops_json")?, "ops_json")?;
        let list = value.as_array().ok_or_else(|| {
            FfiError::invalid(format!(
                "ops_json: expected a JSON array of operations, found {value}"
            ))
        })?;
        if list.is_empty() {
            return Err(FfiError::invalid(
                "ops_json: a transaction needs at least one operation",
            ));
        }
        let ops = list
            .iter()
            .enumerate()
            .map(|(i, v)| op(e, &format!("ops_json[{i}]"), v))
            .collect::<Result<Vec<_>, _>>()?;
        let written = e.engine.store().transaction(ops)?;
        if let Some(out) = out {
            let mut buf = b"[".to_vec();
            for (i, o) in written.iter().enumerate() {
                if i > 0 {
                    buf.push(b',');
                }
                match o {
                    Some(o) => write_object(&mut buf, o.as_ref()),
                    None => buf.extend_from_slice(b"null"),
                }
            }
            buf.push(b']');
            out.write(c_string(buf));
        }
        Ok(())
    })
}
