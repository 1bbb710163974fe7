//! JSON schemas (OpenAPI v3) of the types whose serde form is written by hand, so that the
//! derived schemas of the built-in kinds (served by the API server for `kubectl explain`)
//! describe exactly what the store reads and writes. Feature `apiserver` only.
//!
//! The shapes and formats are Kubernetes' own: a quantity is a string (`format: quantity`),
//! an int-or-string carries `x-kubernetes-int-or-string`, a time is an RFC 3339 `date-time`.

use super::map::Map;
use super::{ApiVersion, Extra, IntOrString, Kind, Quantity, Resource, Selector, Time};
use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use std::borrow::Cow;

impl<K: Resource> JsonSchema for ApiVersion<K> {
    fn schema_name() -> Cow<'static, str> {
        "ApiVersion".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "description": format!(
                "APIVersion defines the versioned schema of this representation of an object: {}.",
                K::API_VERSION
            ),
        })
    }
}

impl<K: Resource> JsonSchema for Kind<K> {
    fn schema_name() -> Cow<'static, str> {
        "Kind".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "description": format!(
                "Kind is a string value representing the REST resource this object represents: {}.",
                K::KIND
            ),
        })
    }
}

/// The fields a type does not model add nothing to its schema: they are kept, not served as
/// fields of the kind.
impl JsonSchema for Extra {
    fn schema_name() -> Cow<'static, str> {
        "Extra".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "object"})
    }
}

impl<V: JsonSchema> JsonSchema for Map<String, V> {
    fn schema_name() -> Cow<'static, str> {
        format!("Map_of_{}", V::schema_name()).into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "object", "additionalProperties": generator.subschema_for::<V>()})
    }
}

impl JsonSchema for Quantity {
    fn schema_name() -> Cow<'static, str> {
        "Quantity".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "format": "quantity",
            "description": "A fixed-point number with an optional suffix: 100m, 1, 1.5, 128Mi, 2Gi, 1e3.",
        })
    }
}

impl JsonSchema for IntOrString {
    fn schema_name() -> Cow<'static, str> {
        "IntOrString".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "format": "int-or-string",
            "x-kubernetes-int-or-string": true,
            "description": "An integer or a string: 1 or \"25%\", 8080 or \"http\".",
        })
    }
}

impl JsonSchema for Time {
    fn schema_name() -> Cow<'static, str> {
        "Time".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "string", "format": "date-time"})
    }
}

impl JsonSchema for Selector {
    fn schema_name() -> Cow<'static, str> {
        "Selector".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "description": "A label selector in its string form: app=web,tier in (a,b).",
        })
    }
}
