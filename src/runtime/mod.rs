//! The controller runtime (layer 4): reconcilers on a shared, synchronous thread pool.
//!
//! The moving parts:
//! - [`Controller`]: a [`Reconciler`] and what it watches (primary kind, owned kinds, mapped
//!   kinds, predicates, scope, concurrency).
//! - informers: one store watch per watched kind, shared by every controller that watches it;
//!   each change is mapped to the keys of the controllers interested in it and added to their
//!   work queues. In-process the store is the cache: nothing is copied.
//! - [`queue::WorkQueue`]: per controller; dedup, per-key exclusion, delayed adds, per-key
//!   exponential backoff and an overall token bucket.
//! - the pool: `workers` threads shared by all controllers, taking keys round-robin across
//!   controllers so one deep queue cannot starve the others; one timer thread promotes
//!   delayed keys of every queue (no thread per timer).
//!
//! A reconciler that panics is caught, counted, logged and retried with backoff; the engine and
//! the other controllers go on. Shutdown stops taking work, lets running reconciles finish
//! within a deadline, and joins every thread.

mod controller;
pub mod finalizer;
mod manager;
pub mod metrics;
pub mod owner;
pub mod queue;
mod rate_limiter;
mod signal;
mod sync;

/// Status condition helpers; they live in [`crate::api::conditions`] (below the runtime, so
/// the scheduler and the kubelet use them without the controller runtime). This path stays.
pub use crate::api::conditions;
/// The Event recorder; it lives in [`crate::client::events`] (below the runtime). This path
/// stays.
pub use crate::client::events;
pub use controller::{
    Action, Context, Controller, Mapper, ObjectKey, Predicate, PredicateFn, ReconcileError,
    ReconcileResult, Reconciler, StoreMapper, Trigger, DEFAULT_PACING,
};
pub use manager::ControllerRegistrar;
pub(crate) use manager::{ControllerManager, ManagerConfig};
pub use metrics::{render_prometheus, MetricsRegistry, MetricsSnapshot};
pub use owner::owner_reference;
