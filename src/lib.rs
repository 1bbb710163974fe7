//! # steady
//!
//! An embeddable reconciliation engine: Kubernetes-style declarative state management inside
//! one host process. The host declares desired state in manifests; controllers drive the
//! actual state towards it.
//!
//! The moving parts, lowest layer first (a layer never imports a higher one):
//! - [`api`]: the object model. [`api::ObjectMeta`], selectors, quantities, names, the
//!   built-in kinds ([`api::Pod`], [`api::Deployment`], ...) and [`api::DynamicObject`] for
//!   any other kind; the [`api::Object`] and [`api::Resource`] traits.
//! - [`store`]: the versioned, lock-striped store (etcd + kube-apiserver): revisions, CAS,
//!   status subresource, finalizers, indexes, transactions, admission hooks and
//!   [`store::Watch`]es.
//! - [`client`]: typed [`client::Api`] and by-name [`client::DynamicApi`].
//! - [`runtime`]: controllers ([`runtime::Controller`], [`runtime::Reconciler`]) on a shared
//!   thread pool with work queues, backoff, helpers and metrics.
//! - [`scheduler`]: places pods on nodes as kube-scheduler does ([`scheduler::Scheduler`]):
//!   a plugin framework with the default filters and scores, a queue with backoff, binding by
//!   compare-and-swap; users add plugins from Rust.
//! - [`node`]: node agents (the kubelet): runtimes for real processes, in-process workers and
//!   simulated containers; probes, restarts, logs, node Leases.
//! - [`controllers`]: the built-in controllers, ordinary users of [`runtime`]: workloads
//!   ([`controllers::replicaset`], [`controllers::deployment`]), the garbage collector
//!   ([`controllers::gc`]), Services and node lifecycle, and the pieces they share.
//! - [`manifest`]: YAML/JSON manifests and `kubectl apply` semantics.
//! - [`engine`]: [`Engine`], which starts all of it; dropping it shuts it down.
//! - [`ffi`]: the C ABI over the engine (`include/steady.h`), which the Python bindings in
//!   `bindings/python` load with ctypes.
//! - [`clock`]: time as every layer sees it ([`clock::ManualClock`] in tests).
//!
//! ```
//! let engine = steady::Engine::builder().build().unwrap();
//! engine.apply("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: hello}\ndata: {greeting: hi}\n").unwrap();
//! let cm = engine.api::<steady::api::ConfigMap>().get("hello").unwrap();
//! assert_eq!(cm.metadata.generation, Some(1));
//! assert!(cm.metadata.resource_version.is_some());
//! ```

#![warn(missing_docs)]

pub mod api;
#[cfg(feature = "apiserver")]
pub mod apiserver;
pub mod client;
pub mod clock;
pub mod controllers;
pub mod engine;
pub mod error;
pub mod ffi;
pub mod manifest;
pub mod node;
pub mod runtime;
pub mod scheduler;
pub mod store;

pub use engine::{Engine, EngineBuilder};
pub use error::{Error, ObjectRef, Result};

#[doc(hidden)]
pub mod __private {
    pub use serde_json;
}

/// The README's Rust examples, compiled and run as doctests so they cannot go stale.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
