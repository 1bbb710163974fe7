//! # steady
//!
//! An embeddable reconciliation engine: Kubernetes-style declarative state management inside
//! one host process. The host declares desired state in manifests; controllers drive the
//! actual state towards it.
//!
//! The moving parts, lowest layer first (a layer never imports a higher one; `tests/layers.rs`
//! fails when one does):
//! - below every layer, usable by all: [`error`] ([`Error`], which names the object and
//!   field) and [`clock`] (time as every layer sees it; [`clock::ManualClock`] in tests).
//! 1. [`api`]: the object model. [`api::ObjectMeta`], selectors, quantities, names, the
//!    built-in kinds ([`api::Pod`], [`api::Deployment`], ...) and [`api::DynamicObject`] for
//!    any other kind; the [`api::Object`] and [`api::Resource`] traits.
//! 2. [`store`]: the versioned, lock-striped store (etcd + kube-apiserver): revisions, CAS,
//!    status subresource, finalizers, indexes, transactions, admission hooks and
//!    [`store::Watch`]es.
//! 3. [`client`]: typed [`client::Api`] and by-name [`client::DynamicApi`].
//! 4. [`runtime`]: controllers ([`runtime::Controller`], [`runtime::Reconciler`]) on a shared
//!    thread pool with work queues, backoff, helpers and metrics.
//! 5. [`scheduler`]: places pods on nodes as kube-scheduler does ([`scheduler::Scheduler`]):
//!    a plugin framework with the default filters and scores, a queue with backoff, binding
//!    by compare-and-swap; users add plugins from Rust.
//! 6. [`node`]: node agents (the kubelet): runtimes for real processes, in-process workers
//!    and simulated containers; probes, restarts, logs, node Leases.
//! 7. [`controllers`]: the built-in controllers, ordinary users of [`runtime`]: workloads
//!    ([`controllers::replicaset`], [`controllers::deployment`]), the garbage collector
//!    ([`controllers::gc`]), Services and node lifecycle, and the pieces they share.
//! 8. [`manifest`]: YAML/JSON manifests and `kubectl apply` semantics.
//! 9. [`engine`]: [`Engine`], which starts all of it; dropping it shuts it down.
//! 10. `apiserver` (feature `apiserver`): the Kubernetes-compatible HTTP API over a running
//!     engine, for `kubectl` and client libraries.
//! 11. [`ffi`]: the C ABI over the engine (`include/steady.h`), which the Python bindings in
//!     `bindings/python` load with ctypes.
//! 12. the `steady` command-line tool (feature `cli`): `src/cli`, compiled into the binary
//!     `src/bin/steady.rs`, a user of the public API only.
//!
//! ```
//! let engine = steady::Engine::builder().build().unwrap();
//! engine.apply("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: hello}\ndata: {greeting: hi}\n").unwrap();
//! let cm = engine.api::<steady::api::ConfigMap>().get("hello").unwrap();
//! assert_eq!(cm.metadata.generation, Some(1));
//! assert!(cm.metadata.resource_version.is_some());
//! ```

#![warn(missing_docs)]

// Below every layer.
pub mod clock;
pub mod error;
// Layer 1: the object model.
pub mod api;
// Layer 2: the store.
pub mod store;
// Layer 3: the client.
pub mod client;
// Layer 4: the controller runtime.
pub mod runtime;
// Layer 5: the scheduler.
pub mod scheduler;
// Layer 6: the node agent.
pub mod node;
// Layer 7: the built-in controllers.
pub mod controllers;
// Layer 8: manifests.
pub mod manifest;
// Layer 9: the engine.
pub mod engine;
// Layer 10: the Kubernetes-compatible HTTP API.
#[cfg(feature = "apiserver")]
pub mod apiserver;
// Layer 11: the C ABI. (Layer 12, the CLI, is compiled into the binary src/bin/steady.rs.)
pub mod ffi;

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
