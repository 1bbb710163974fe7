//! The C ABI (layer 11): the engine, the dynamic API, watches and host controllers, for C,
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
//! - [`worker`]: host workers (`steady_engine_register_worker`) and `steady_worker`, the
//!   handle of a running instance (ready, heartbeat, stop, log, its pod's names);
//! - [`node`]: the engine's node names, container logs, Service resolution;
//! - [`transaction`]: several writes committed together (`steady_engine_transaction`);
//! - [`result`]: `steady_result` codes and `steady_last_error`;
//! - [`logging`]: the engine's log messages to a host callback (`steady_set_log_callback`);
//! - [`string`] and [`version`]: `steady_string_free`, `steady_version`,
//!   `steady_version_number`.
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
//! - callbacks (reconcile, watch, worker start and stop) run on engine threads with no
//!   engine lock held, so they may call back into the API.

#![allow(non_camel_case_types)]

pub(crate) mod boundary;
mod config;
pub mod controller;
pub mod engine;
mod json;
mod kind;
pub mod logging;
pub mod maintenance;
pub mod node;
mod options;
pub mod result;
pub mod string;
pub mod subscription;
pub mod transaction;
pub mod version;
pub mod watch;
pub mod worker;

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
pub use logging::{steady_log_fn, steady_log_level, steady_set_log_callback};
pub use maintenance::{
    steady_engine_cordon, steady_engine_drain, steady_engine_evict, steady_engine_uncordon,
};
pub use node::{steady_engine_logs, steady_engine_node_names, steady_engine_resolve};
pub use result::{steady_last_error, steady_result, steady_result_name, FfiError};
pub use string::steady_string_free;
pub use subscription::{
    steady_subscription, steady_subscription_free, steady_subscription_new, steady_watch_fn,
};
pub use transaction::steady_engine_transaction;
pub use version::{
    steady_version, steady_version_number, STEADY_VERSION_MAJOR, STEADY_VERSION_MINOR,
    STEADY_VERSION_NUMBER, STEADY_VERSION_PATCH,
};
pub use watch::{steady_watch, steady_watch_free, steady_watch_new, steady_watch_next};
pub use worker::{
    steady_engine_register_worker, steady_worker, steady_worker_container_name, steady_worker_env,
    steady_worker_exit_message, steady_worker_heartbeat, steady_worker_log, steady_worker_mount,
    steady_worker_namespace, steady_worker_node_name, steady_worker_not_ready,
    steady_worker_pod_name, steady_worker_pod_uid, steady_worker_ready, steady_worker_start_fn,
    steady_worker_stop_fn, steady_worker_stopping, steady_worker_wait_stop,
};
