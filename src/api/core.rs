//! core/v1 kinds: [`Pod`], [`Node`], [`Service`], [`Endpoints`], [`Event`],
//! [`PersistentVolumeClaim`], [`Namespace`], [`ConfigMap`] and [`Secret`], and the types the
//! workload kinds share with them (containers, probes, volumes, [`IntOrString`]...).
//!
//! Field names and shapes follow the Kubernetes wire format. Fields that are enums in
//! Kubernetes stay strings (so unknown values survive a round trip) and are checked by the
//! kind's validation; every struct keeps the fields it does not model in its `extra`.
//!
//! One file per kind, or per part of a pod, all re-exported here (and again by [`crate::api`]):
//! - a pod: `pod` ([`Pod`], [`PodSpec`], [`PodTemplateSpec`]), `container`, `probe`
//!   (probes and lifecycle hooks), `env`, `volume`, `volume_sources`, `placement`
//!   (tolerations, node affinity, spread), `pod_affinity`, `pod_status`;
//! - the other kinds: `node`, `service`, `endpoints`, `event`, `persistent_volume_claim`,
//!   `namespace`, `config_map`, `secret`;
//! - shared shapes: `int_or_string`, `object_reference` and [`ResourceList`].

use super::{Map, Quantity};

mod config_map;
mod container;
mod endpoints;
mod env;
mod event;
mod int_or_string;
mod namespace;
mod node;
mod object_reference;
mod persistent_volume_claim;
mod placement;
mod pod;
mod pod_affinity;
mod pod_status;
mod probe;
mod secret;
mod service;
mod volume;
mod volume_sources;

pub use config_map::*;
pub use container::*;
pub use endpoints::*;
pub use env::*;
pub use event::*;
pub use int_or_string::*;
pub use namespace::*;
pub use node::*;
pub use object_reference::*;
pub use persistent_volume_claim::*;
pub use placement::*;
pub use pod::*;
pub use pod_affinity::*;
pub use pod_status::*;
pub use probe::*;
pub use secret::*;
pub use service::*;
pub use volume::*;
pub use volume_sources::*;

/// Resource amounts by resource name (`cpu`, `memory`, `storage`...): Kubernetes' ResourceList.
pub type ResourceList = Map<String, Quantity>;

#[cfg(test)]
mod tests;
