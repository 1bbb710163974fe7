//! Node agents (layer 6): the kubelet of steady.
//!
//! - [`ContainerRuntime`]: the interface to what runs containers; [`RunningContainer`] is one
//!   started container. Runtimes: process (real OS processes), worker (in-process workers the host
//!   registers) and simulated (instant, for tests and scale benchmarks).
//! - [`LogBuffer`]: bounded container output (`kubectl logs`, including the previous
//!   instance).
//! - [`proxy`]: the Service proxy, which serves each Service's virtual address and forwards
//!   connections to ready endpoints.

pub mod agent;
#[cfg(target_os = "linux")]
mod cgroups;
pub mod config;
mod env;
pub mod host;
pub mod images;
pub mod logs;
pub mod mount_ns;
#[cfg(target_os = "linux")]
mod orphans;
pub mod probe;
#[cfg(unix)]
pub mod process;
#[cfg(target_os = "linux")]
mod procmon;
#[cfg(unix)]
pub mod proxy;
pub mod runtime;
pub mod simulated;
#[cfg(unix)]
mod spawner;
mod volumes;
pub mod worker;

pub use agent::{ContainerUsage, DefaultProber, Kubelet, KubeletBuilder, ProbeExecutor};
pub use config::{KubeletConfig, NodeConfig, HOSTNAME_LABEL, LEASE_NAMESPACE, ZONE_LABEL};
pub use images::{Image, ImageRef, ImageTable};
pub use logs::{LogBuffer, DEFAULT_LOG_LIMIT};
pub use probe::{run_probe, ProbeKind, ProbeResult, ProbeSettings, ProbeTarget};
#[cfg(unix)]
pub use process::{ProcessContainer, ProcessRuntime};
/// The former name of [`ContainerRuntime`] (one of three things called Runtime: this trait,
/// the controller runtime's folder and its pool), kept so code written against it builds.
#[doc(hidden)]
pub use runtime::ContainerRuntime as Runtime;
pub use runtime::{
    ChangeNotifier, ContainerRuntime, ContainerSpec, ExitNotifier, ExitStatus, Mount,
    RunningContainer, StartError, WorkerHealth,
};
pub use simulated::SimulatedRuntime;
pub use worker::{Worker, WorkerContext, WorkerRegistry, WorkerRuntime};

use crate::api::Pod;
use crate::store::{ListParams, Store};
use std::sync::Arc;

/// Whether a node is one of this engine's (run by its node agent). On a store shared with
/// other engines, pod addresses are loopback addresses of the host that runs the pod, so
/// the Service proxy and [`Resolver`](crate::controllers::endpoints::Resolver) use only the
/// endpoints on this engine's nodes.
pub type LocalNodes = Arc<dyn Fn(&str) -> bool + Send + Sync>;

/// Whether address `a` is usable from this host: always, unless `local` is set and the
/// address is on a node it does not accept.
pub(crate) fn is_local(
    a: &crate::api::EndpointAddress,
    local: Option<&crate::node::LocalNodes>,
) -> bool {
    match (local, a.node_name.as_deref()) {
        (Some(local), Some(node)) => local(node),
        _ => true,
    }
}

/// The pods bound to node `node` (`spec.nodeName`), from the store's field index of that
/// field, in name order: what a node agent drives, what the node lifecycle controller
/// evicts and what a drain moves. Terminal pods included.
///
/// # Errors
///
/// The store's, when it no longer serves Pods (shut down).
pub fn pods_on(store: &Store, node: &str) -> crate::Result<Vec<Arc<Pod>>> {
    let list = store.list(
        "Pod",
        &ListParams {
            field: Some(("spec.nodeName".into(), node.into())),
            ..Default::default()
        },
    )?;
    Ok(list
        .items
        .into_iter()
        .filter_map(|o| o.downcast_arc::<Pod>().ok())
        .collect())
}
