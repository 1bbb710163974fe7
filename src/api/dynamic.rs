//! `DynamicObject`: any kind steady has no Rust type for (custom kinds), kept as JSON.

use super::meta::ObjectMeta;
use super::object::Object;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::any::Any;
use std::sync::Arc;

/// An object of any kind: `apiVersion`, `kind`, typed `metadata`, and every other top-level
/// field (`spec`, `status`, `data`, ...) as JSON.
///
/// For generation and the status subresource, `status` is the status and every other
/// top-level field is the desired state.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
pub struct DynamicObject {
    /// `apiVersion`, e.g. `example.com/v1`.
    #[serde(rename = "apiVersion", default)]
    pub api_version: String,
    /// `kind`, e.g. `Widget`.
    #[serde(default)]
    pub kind: String,
    /// `metadata`.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// Every other top-level field.
    #[serde(flatten)]
    pub data: Map<String, Value>,
}

impl DynamicObject {
    /// An empty object of the given kind and name.
    pub fn new(api_version: &str, kind: &str, name: &str) -> Self {
        DynamicObject {
            api_version: api_version.to_string(),
            kind: kind.to_string(),
            metadata: ObjectMeta {
                name: name.to_string(),
                ..Default::default()
            },
            data: Map::new(),
        }
    }

    /// `spec`, if present.
    pub fn spec(&self) -> Option<&Value> {
        self.data.get("spec")
    }

    /// `status`, if present.
    pub fn status(&self) -> Option<&Value> {
        self.data.get("status")
    }

    /// Converts any object to its dynamic form (a copy through JSON for typed kinds).
    pub fn from_object(obj: &dyn Object) -> DynamicObject {
        if let Some(d) = obj.as_any().downcast_ref::<DynamicObject>() {
            return d.clone();
        }
        serde_json::from_value(obj.to_value())
            .expect("an object's JSON always has the object shape")
    }
}

impl Object for DynamicObject {
    fn api_version(&self) -> &str {
        &self.api_version
    }
    fn kind(&self) -> &str {
        &self.kind
    }
    fn meta(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn meta_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
    fn spec_eq(&self, other: &dyn Object) -> bool {
        let Some(o) = other.as_any().downcast_ref::<DynamicObject>() else {
            return false;
        };
        let mine = self.data.iter().filter(|(k, _)| *k != "status");
        let theirs = o.data.iter().filter(|(k, _)| *k != "status");
        mine.eq(theirs)
    }
    fn set_status_from(&mut self, other: &dyn Object) {
        let Some(o) = other.as_any().downcast_ref::<DynamicObject>() else {
            return;
        };
        match o.data.get("status") {
            Some(s) => {
                self.data.insert("status".into(), s.clone());
            }
            None => {
                self.data.remove("status");
            }
        }
    }
    fn status_eq(&self, other: &dyn Object) -> bool {
        other
            .as_any()
            .downcast_ref::<DynamicObject>()
            .is_some_and(|o| self.data.get("status") == o.data.get("status"))
    }
    fn clear_status(&mut self) {
        self.data.remove("status");
    }
    fn eq_dyn(&self, other: &dyn Object) -> bool {
        other
            .as_any()
            .downcast_ref::<DynamicObject>()
            .is_some_and(|o| self == o)
    }
    fn encoded_len(&self) -> usize {
        super::object::json_len(self)
    }
    fn status_len(&self) -> usize {
        self.data.get("status").map_or(0, super::object::json_len)
    }
    fn clone_arc(&self) -> Arc<dyn Object> {
        Arc::new(self.clone())
    }
    fn clone_boxed(&self) -> Box<dyn Object> {
        Box::new(self.clone())
    }
    fn to_value(&self) -> Value {
        serde_json::to_value(self).expect("a DynamicObject always serializes")
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
    fn into_any_arc(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }
    fn into_any_box(self: Box<Self>) -> Box<dyn Any> {
        self
    }
}
