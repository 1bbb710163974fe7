//! The C ABI (layer 10): the engine, the dynamic API, watches and host controllers, for C,
//! C++ and Python (through ctypes). The header is `include/steady.h`, generated from these
//! declarations by cbindgen (`cbindgen.toml`); a test fails when it is stale.
//!
//! This layer is thin: it checks pointers and strings, turns JSON into the engine's
//! arguments and the engine's results into JSON, and maps errors to codes. Everything else is
//! the engine's own API.
//!
//! One file per exported type:
//! - [`engine`]: `steady_engine` (new, free, apply, get, list, create, update,
//!   update_status, patch, delete, metrics);
//! - [`watch`]: `steady_watch` (blocking next with a timeout);
//! - [`subscription`]: `steady_subscription` (a watch calling back on an engine-owned thread);
//! - [`controller`]: host controllers (`steady_engine_add_controller`, the reconcile request
//!   and reply);
//! - [`result`]: `steady_result` codes and `steady_last_error`;
//! - [`string`] and [`version`]: `steady_string_free`, `steady_version`.
//!
//! Conventions (the header repeats them):
//! - every symbol starts with `steady_`; handles are opaque, made by `..._new` and released
//!   by `..._free`, which accepts NULL;
//! - fallible functions return a [`steady_result`]; outputs go through `out_` pointer
//!   parameters, written only on success; the message of the last failure on a thread is
//!   `steady_last_error()`;
//! - objects go in and out as UTF-8 JSON; every string steady hands over is freed with
//!   `steady_string_free`; strings steady lends are never freed;
//! - every pointer is checked (NULL is `STEADY_NULL_PARAMETER` naming the parameter), every
//!   string checked for UTF-8 (`STEADY_INVALID_UTF8`), and every entry point runs behind one
//!   panic boundary (`STEADY_PANIC`: no unwinding into C);
//! - callbacks run on engine threads with no engine lock held, so they may call back into
//!   the API.

#![allow(non_camel_case_types)]

pub(crate) mod boundary;
mod config;
pub mod controller;
pub mod engine;
mod json;
mod kind;
mod options;
pub mod result;
pub mod string;
pub mod subscription;
pub mod version;
pub mod watch;

pub use controller::{
    steady_engine_add_controller, steady_reconcile_action, steady_reconcile_fn,
    steady_reconcile_reply, steady_reconcile_reply_error, steady_reconcile_reply_requeue_after,
    steady_reconcile_request,
};
pub use engine::{
    steady_engine, steady_engine_apply, steady_engine_create, steady_engine_delete,
    steady_engine_free, steady_engine_get, steady_engine_list, steady_engine_metrics,
    steady_engine_new, steady_engine_patch, steady_engine_update, steady_engine_update_status,
};
pub use result::{steady_last_error, steady_result, steady_result_name, FfiError};
pub use string::steady_string_free;
pub use subscription::{
    steady_subscription, steady_subscription_free, steady_subscription_new, steady_watch_fn,
};
pub use version::{
    steady_version, STEADY_VERSION_MAJOR, STEADY_VERSION_MINOR, STEADY_VERSION_PATCH,
};
pub use watch::{steady_watch, steady_watch_free, steady_watch_new, steady_watch_next};
