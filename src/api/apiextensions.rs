//! apiextensions.k8s.io/v1: [`CustomResourceDefinition`], the way a manifest registers a kind.
//!
//! Committing a CustomResourceDefinition registers the kind it defines in the store's
//! [`Registry`](super::Registry) (the store does it, at commit, under the same revision), so the
//! kind is served at once: in the same apply, when the definition comes before its objects.
//! What steady serves of a definition: `group`, `names` (kind, plural, singular, shortNames,
//! listKind), `scope` and the served `versions`. A version's `schema` and `subresources`,
//! conversion webhooks and printer columns are kept but not acted on: objects are not
//! checked against the schema (apply warns so).

use super::meta::{Extra, ObjectMeta};
use super::object::{ApiVersion, Kind};
use super::registry::KindInfo;
use super::validation::{dns1123_label, dns1123_subdomain};
use crate::error::FieldError;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A CustomResourceDefinition (apiextensions.k8s.io/v1, cluster-scoped). Its name must be
/// `<spec.names.plural>.<spec.group>`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
pub struct CustomResourceDefinition {
    /// `apiVersion`: always `apiextensions.k8s.io/v1`.
    #[serde(rename = "apiVersion", default)]
    pub api_version: ApiVersion<Self>,
    /// `kind`: always `CustomResourceDefinition`.
    #[serde(default)]
    pub kind: Kind<Self>,
    /// `metadata`.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// The kind defined.
    #[serde(default)]
    pub spec: CustomResourceDefinitionSpec,
    /// Observed state (kept as written).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Value>,
    /// Unmodelled top-level fields.
    #[serde(flatten)]
    pub extra: Extra,
}

crate::impl_resource!(
    CustomResourceDefinition,
    api_version = "apiextensions.k8s.io/v1",
    kind = "CustomResourceDefinition",
    plural = "customresourcedefinitions",
    namespaced = false,
    spec = [spec, extra],
    status = [status],
    validate = validate_definition,
    validate_update = validate_definition_update
);

/// What a CustomResourceDefinition defines.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct CustomResourceDefinitionSpec {
    /// API group of the kind (`stable.example.com`): its apiVersions are `<group>/<version>`.
    #[serde(default)]
    pub group: String,
    /// The kind's names.
    #[serde(default)]
    pub names: CustomResourceDefinitionNames,
    /// `Namespaced` or `Cluster`.
    #[serde(default)]
    pub scope: String,
    /// The versions; those with `served: true` are accepted, the one with `storage: true`
    /// is the apiVersion the kind is registered under.
    #[serde(default)]
    pub versions: Vec<CustomResourceDefinitionVersion>,
    /// Unmodelled fields (conversion, preserveUnknownFields).
    #[serde(flatten)]
    pub extra: Extra,
}

/// `spec.names` of a CustomResourceDefinition.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct CustomResourceDefinitionNames {
    /// The kind, CamelCase (`CronTab`).
    #[serde(default)]
    pub kind: String,
    /// Lower-case plural (`crontabs`); the definition's name starts with it.
    #[serde(default)]
    pub plural: String,
    /// Lower-case singular; defaults to the lower-cased kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub singular: Option<String>,
    /// Short names (`ct`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub short_names: Vec<String>,
    /// Kind of a list; defaults to `<kind>List`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list_kind: Option<String>,
    /// Unmodelled fields (categories).
    #[serde(flatten)]
    pub extra: Extra,
}

/// One entry of `spec.versions`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct CustomResourceDefinitionVersion {
    /// The version (`v1`, `v1beta1`).
    #[serde(default)]
    pub name: String,
    /// Objects may carry this version.
    #[serde(default)]
    pub served: bool,
    /// The version objects are registered under; exactly one version has it.
    #[serde(default)]
    pub storage: bool,
    /// The OpenAPI schema, kept but not enforced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<Value>,
    /// Columns `kubectl get` prints for the kind (`name`, `type`, `jsonPath`, `priority`),
    /// served in the API server's tables.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub additional_printer_columns: Vec<Value>,
    /// Unmodelled fields (subresources, deprecated).
    #[serde(flatten)]
    pub extra: Extra,
}

impl CustomResourceDefinition {
    /// The kind this definition registers: the storage version's apiVersion, the other
    /// served versions, plural and scope.
    pub fn served_kind(&self) -> KindInfo {
        let s = &self.spec;
        let version = |v: &CustomResourceDefinitionVersion| format!("{}/{}", s.group, v.name);
        let storage = s
            .versions
            .iter()
            .find(|v| v.storage)
            .or_else(|| s.versions.iter().find(|v| v.served))
            .map(version)
            .unwrap_or_else(|| format!("{}/v1", s.group));
        let mut info = KindInfo::dynamic(&storage, &s.names.kind, s.scope != "Cluster");
        info.plural = s.names.plural.clone();
        info.served_versions = s
            .versions
            .iter()
            .filter(|v| v.served)
            .map(version)
            .filter(|v| *v != storage)
            .collect();
        info.definition = Some(self.metadata.name.clone());
        info
    }
}

fn validate_definition(d: &CustomResourceDefinition, errors: &mut Vec<FieldError>) {
    let s = &d.spec;
    let mut bad = |field: &str, message: String| errors.push(FieldError::new(field, message));
    if s.group.is_empty() {
        bad("spec.group", "Required value".into());
    } else if let Err(m) = dns1123_subdomain(&s.group) {
        bad("spec.group", format!("Invalid value: {:?}: {m}", s.group));
    } else if !s.group.contains('.') {
        bad(
            "spec.group",
            format!(
                "Invalid value: {:?}: should be a domain with at least one dot",
                s.group
            ),
        );
    }
    let kind = &s.names.kind;
    if kind.is_empty() {
        bad("spec.names.kind", "Required value".into());
    } else if !kind.starts_with(|c: char| c.is_ascii_uppercase())
        || !kind.chars().all(|c| c.is_ascii_alphanumeric())
    {
        bad(
            "spec.names.kind",
            format!(
                "Invalid value: {kind:?}: a kind is an alphanumeric name starting with a capital \
                 letter"
            ),
        );
    }
    if s.names.plural.is_empty() {
        bad("spec.names.plural", "Required value".into());
    } else if let Err(m) = dns1123_label(&s.names.plural) {
        bad(
            "spec.names.plural",
            format!("Invalid value: {:?}: {m}", s.names.plural),
        );
    }
    let expected = format!("{}.{}", s.names.plural, s.group);
    if !s.names.plural.is_empty() && !s.group.is_empty() && d.metadata.name != expected {
        bad(
            "metadata.name",
            format!(
                "Invalid value: {:?}: must be spec.names.plural+\".\"+spec.group ({expected:?})",
                d.metadata.name
            ),
        );
    }
    if !matches!(s.scope.as_str(), "Namespaced" | "Cluster") {
        bad(
            "spec.scope",
            format!(
                "Unsupported value: {:?}: supported values: \"Cluster\", \"Namespaced\"",
                s.scope
            ),
        );
    }
    if s.versions.is_empty() {
        bad(
            "spec.versions",
            "Required value: must have exactly one version marked as storage version".into(),
        );
    }
    for (i, v) in s.versions.iter().enumerate() {
        if let Err(m) = dns1123_label(&v.name) {
            bad(
                &format!("spec.versions[{i}].name"),
                format!("Invalid value: {:?}: {m}", v.name),
            );
        }
        if s.versions[..i].iter().any(|w| w.name == v.name) {
            bad(
                &format!("spec.versions[{i}].name"),
                format!("Duplicate value: {:?}", v.name),
            );
        }
    }
    let storage = s.versions.iter().filter(|v| v.storage).count();
    if !s.versions.is_empty() && storage != 1 {
        bad(
            "spec.versions",
            format!("Invalid value: must have exactly one version marked as storage version, found {storage}"),
        );
    }
    if !s.versions.is_empty() && !s.versions.iter().any(|v| v.served) {
        bad(
            "spec.versions",
            "Invalid value: must have at least one version marked as served".into(),
        );
    }
}

/// Checks an update of a definition: the kind and its scope cannot change.
pub(crate) fn validate_definition_update(
    new: &CustomResourceDefinition,
    old: &CustomResourceDefinition,
    errors: &mut Vec<FieldError>,
) {
    if new.spec.names.kind != old.spec.names.kind {
        errors.push(FieldError::new("spec.names.kind", "field is immutable"));
    }
    if new.spec.scope != old.spec.scope {
        errors.push(FieldError::new("spec.scope", "field is immutable"));
    }
    if new.spec.group != old.spec.group {
        errors.push(FieldError::new("spec.group", "field is immutable"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn crd(v: Value) -> CustomResourceDefinition {
        serde_json::from_value(v).unwrap()
    }

    fn crontab() -> Value {
        json!({
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": "crontabs.stable.example.com"},
            "spec": {
                "group": "stable.example.com",
                "scope": "Namespaced",
                "names": {"plural": "crontabs", "singular": "crontab", "kind": "CronTab",
                          "shortNames": ["ct"]},
                "versions": [
                    {"name": "v1", "served": true, "storage": true,
                     "schema": {"openAPIV3Schema": {"type": "object"}}},
                    {"name": "v1beta1", "served": true, "storage": false},
                    {"name": "v1alpha1", "served": false, "storage": false}
                ]
            }
        })
    }

    #[test]
    fn the_documentation_example_defines_a_namespaced_kind_in_its_served_versions() {
        let d = crd(crontab());
        let mut errors = Vec::new();
        validate_definition(&d, &mut errors);
        assert!(errors.is_empty(), "{errors:?}");
        let info = d.served_kind();
        assert_eq!(info.kind, "CronTab");
        assert_eq!(info.api_version, "stable.example.com/v1");
        assert_eq!(info.plural, "crontabs");
        assert!(info.namespaced);
        assert!(info.serves("stable.example.com/v1beta1"));
        assert!(!info.serves("stable.example.com/v1alpha1"));
        assert_eq!(
            info.definition.as_deref(),
            Some("crontabs.stable.example.com")
        );
    }

    #[test]
    fn bad_definitions_name_each_field() {
        let mut v = crontab();
        v["metadata"]["name"] = json!("crontabs.other.example.com");
        v["spec"]["scope"] = json!("Global");
        v["spec"]["names"]["kind"] = json!("cronTab");
        v["spec"]["versions"][1]["storage"] = json!(true);
        let mut errors = Vec::new();
        validate_definition(&crd(v), &mut errors);
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "spec.names.kind",
                "metadata.name",
                "spec.scope",
                "spec.versions"
            ],
            "{errors:?}"
        );
    }

    #[test]
    fn kind_scope_and_group_are_immutable() {
        let old = crd(crontab());
        let mut new = old.clone();
        new.spec.scope = "Cluster".into();
        new.spec.names.kind = "Crontab".into();
        let mut errors = Vec::new();
        validate_definition_update(&new, &old, &mut errors);
        assert_eq!(errors.len(), 2);
        assert!(errors.iter().all(|e| e.message == "field is immutable"));
    }
}
