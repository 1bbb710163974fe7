//! The object model (layer 1): metadata, selectors, quantities, names, the built-in kinds and
//! [`DynamicObject`] for every other kind.
//!
//! [`resources`] turns pod requests and node capacity into integers for the scheduler, the
//! node agent and the autoscaler.
//!
//! Every typed struct keeps the fields it does not model in an [`Extra`] map, so nothing a
//! manifest says is ever dropped.

pub mod apiextensions;
pub mod apps;
pub mod autoscaling;
pub mod base64;
pub mod batch;
mod builtin;
mod condition;
pub mod conditions;
pub mod coordination;
pub mod core;
pub mod cron;
mod dynamic;
mod immutable;
pub mod map;
mod meta;
pub mod node_affinity;
mod object;
pub mod policy;
mod quantity;
mod registry;
pub mod resources;
pub mod scheduling;
#[cfg(feature = "apiserver")]
mod schema;
mod selector;
pub mod service_ip;
pub mod validation;

pub use self::apiextensions::*;
pub use self::apps::*;
pub use self::autoscaling::*;
pub use self::batch::*;
#[cfg(feature = "apiserver")]
pub(crate) use self::builtin::builtin_schemas;
pub use self::builtin::{builtin_kinds, register_builtins};
pub use self::coordination::*;
pub use self::core::*;
pub use self::policy::PodDisruptionBudget;
pub use self::scheduling::PriorityClass;
/// Defined beside the clock ([`crate::clock`], which hands it out); re-exported here.
pub use crate::clock::{Time, TimeParseError};
/// Defined below every layer (in [`crate::error`], which carries it); re-exported here, with the
/// object model whose fields it names.
pub use crate::error::FieldError;
pub use condition::Condition;
pub use dynamic::DynamicObject;
pub use map::Map;
pub use meta::{Extra, ObjectMeta, OwnerReference};
pub use object::{json_len, make_mut, ApiVersion, Kind, Object, Resource};
pub use quantity::{Quantity, QuantityError};
pub use registry::{KindInfo, Registry};
pub use resources::{node_allocatable, pod_requests, Resources};
pub use selector::{
    LabelSelector, LabelSelectorRequirement, Labels, Operator, Requirement, Selector, SelectorError,
};
