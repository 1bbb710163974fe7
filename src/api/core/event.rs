//! The [`Event`] kind: a report of something that happened to an object (what the
//! runtime's event recorder writes).

use super::ObjectReference;
use crate::api::{ApiVersion, Extra, Kind, ObjectMeta, Time};
use serde::{Deserialize, Serialize};

/// An Event (core/v1): a report of something that happened to an object.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// `apiVersion`: always `v1`.
    #[serde(rename = "apiVersion", default)]
    pub api_version: ApiVersion<Self>,
    /// `kind`: always `Event`.
    #[serde(default)]
    pub kind: Kind<Self>,
    /// `metadata`.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// The object the event is about.
    #[serde(default)]
    pub involved_object: ObjectReference,
    /// Machine-readable CamelCase reason (`Scheduled`, `BackOff`...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Human-readable details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// `Normal` or `Warning`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    /// How many times the event occurred (deduplicated events).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<i32>,
    /// First occurrence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_timestamp: Option<Time>,
    /// Latest occurrence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_timestamp: Option<Time>,
    /// The component that reported the event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<EventSource>,
    /// Controller that emitted the event (`kubernetes.io/kubelet`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reporting_component: Option<String>,
    /// Instance of the controller (`kubelet-node1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reporting_instance: Option<String>,
    /// Unmodelled fields (eventTime, action, related, series).
    #[serde(flatten)]
    pub extra: Extra,
}

crate::impl_resource!(
    Event,
    api_version = "v1",
    kind = "Event",
    plural = "events",
    namespaced = true,
    spec = [
        involved_object,
        reason,
        message,
        type_,
        count,
        first_timestamp,
        last_timestamp,
        source,
        reporting_component,
        reporting_instance,
        extra
    ],
    status = []
);

/// The component that reported an [`Event`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct EventSource {
    /// Component (`kubelet`, `default-scheduler`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub component: Option<String>,
    /// Node name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Unmodelled fields.
    #[serde(flatten)]
    pub extra: Extra,
}
