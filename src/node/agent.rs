//! The node agent (kubelet): drives the pods bound to the nodes this engine runs.
//!
//! One [`Kubelet`] serves every node of the engine (the local node, further local nodes,
//! simulated nodes); per node it keeps the runtimes and whether the node is up. It is an
//! ordinary controller on Pods (named `kubelet`): a reconcile of a pod compares what the pod
//! asks for with what runs and acts: starts containers through the node's first
//! [`ContainerRuntime`](crate::node::ContainerRuntime) that handles them, restarts them by restart policy with crash-loop backoff,
//! runs probes, stops containers gracefully (SIGTERM, then SIGKILL after the grace period)
//! when the pod is deleted, and writes the pod's status (phase, conditions, container
//! statuses). Everything outside the store that matters to a pod (a container exit, a probe
//! result) queues the pod's key through the controller's [`Trigger`](crate::runtime::Trigger); every timer (backoff,
//! probe period, grace period) is a requeue on the engine clock. So a manual clock drives it
//! all in tests, and a crash is acted on as soon as it is reported.
//!
//! Invariants:
//! - the runtime's work queue never hands one pod to two workers, so a pod's state
//!   (`PodRt`) is only touched by one reconcile at a time; its mutex is only contended by
//!   shutdown and log readers;
//! - exit notifiers and probe threads never take a pod's mutex: they fill a slot of their own
//!   and queue the key, so they cannot deadlock with a reconcile that stops a container;
//! - a container instance is identified by its slot; a late exit or probe result of an
//!   instance that was replaced lands in the old slot and is never mistaken for the new one.
//!
//! The files: `kubelet` (the handle, its builder and the nodes it serves), `node_status`
//! (Node registration, status and Lease), `pod_sync` (the pod sync state machine),
//! `pod_state` (what is kept of each pod between reconciles), `container_setup` (mounts,
//! volumes and environment), `container_probes` (probes and their results), `pod_status`
//! (the status written back, QoS class) and `addresses` (each engine's block of pod
//! addresses).

mod addresses;
mod container_probes;
mod container_setup;
mod kubelet;
pub(crate) mod node_claim;
mod node_status;
mod pod_state;
mod pod_status;
mod pod_sync;

pub use kubelet::{ContainerUsage, DefaultProber, Kubelet, KubeletBuilder, ProbeExecutor};
pub use node_claim::ENGINE_ANNOTATION;
