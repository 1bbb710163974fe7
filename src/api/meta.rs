//! Object metadata (`metadata:` of every object) and the carrier of fields steady does not model.

use super::map::Map;
use crate::clock::Time;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use std::cell::Cell;
use std::ops::{Deref, DerefMut};

/// Fields of a manifest that steady's typed structs do not model.
///
/// Every typed struct carries one (`#[serde(flatten)]`), so a manifest copied from the Kubernetes
/// documentation survives a round trip through steady unchanged: nothing is dropped. Apply
/// reports such fields as warnings.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Extra(pub Map<String, Value>);

thread_local! {
    // Set while computing which fields of a manifest are not modelled: `Extra` then serializes
    // as empty, and comparing that output with the input shows the unmodelled fields.
    static SKIP_EXTRA: Cell<bool> = const { Cell::new(false) };
}

impl Extra {
    /// Runs `f` with every `Extra` serializing as empty on this thread: an object encoded
    /// inside shows only the fields steady models, and comparing that with the manifest it
    /// came from names the fields it does not (what apply reports as unknown fields).
    pub fn without<R>(f: impl FnOnce() -> R) -> R {
        struct Reset(bool);
        impl Drop for Reset {
            fn drop(&mut self) {
                SKIP_EXTRA.with(|c| c.set(self.0));
            }
        }
        let _reset = Reset(SKIP_EXTRA.with(|c| c.replace(true)));
        f()
    }
}

impl Deref for Extra {
    type Target = Map<String, Value>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl DerefMut for Extra {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl Serialize for Extra {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if SKIP_EXTRA.with(|c| c.get()) {
            Map::<String, Value>::new().serialize(s)
        } else {
            self.0.serialize(s)
        }
    }
}

impl<'de> Deserialize<'de> for Extra {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Map::deserialize(d).map(Extra)
    }
}

/// `metadata:` of every object, as in Kubernetes' ObjectMeta.
///
/// `uid`, `resourceVersion`, `generation`, `creationTimestamp` and `deletionTimestamp` are
/// owned by the store: values a client sends are ignored on create, and `resourceVersion` on
/// update is the compare-and-swap precondition.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ObjectMeta {
    /// Name, unique per kind and namespace. Empty only when `generate_name` is set on create.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Prefix from which the store generates a unique name when `name` is empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generate_name: Option<String>,
    /// Namespace; `None` for cluster-scoped kinds (defaults to `default` for namespaced kinds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Unique id assigned on create; a re-created object gets a new one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    /// Store revision of the object's last change. Opaque: compare only for equality.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_version: Option<String>,
    /// 1 on create, +1 on every change of the desired state (`spec`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<i64>,
    /// When the object was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_timestamp: Option<Time>,
    /// Set when deletion was requested while finalizers remain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_timestamp: Option<Time>,
    /// Grace period requested with the deletion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_grace_period_seconds: Option<i64>,
    /// Identifying labels, matched by selectors.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub labels: Map<String, String>,
    /// Non-identifying annotations.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub annotations: Map<String, String>,
    /// Objects this one depends on; the garbage collector deletes it when they are gone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub owner_references: Vec<OwnerReference>,
    /// Keys that hold deletion until the controllers that own them remove them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub finalizers: Vec<String>,
    /// Unmodelled metadata fields (managedFields, selfLink, ...), kept as they came.
    #[serde(flatten)]
    pub extra: Extra,
}

impl ObjectMeta {
    /// The namespace, or `""` for cluster-scoped objects.
    pub fn namespace_str(&self) -> &str {
        self.namespace.as_deref().unwrap_or("")
    }

    /// The controller owner reference (`controller: true`), if any.
    pub fn controller_ref(&self) -> Option<&OwnerReference> {
        self.owner_references
            .iter()
            .find(|r| r.controller == Some(true))
    }

    /// The resourceVersion parsed as the store revision it encodes.
    pub fn revision(&self) -> Option<u64> {
        self.resource_version
            .as_deref()
            .and_then(|s| s.parse().ok())
    }
}

/// A reference from a dependent to its owner (`metadata.ownerReferences[]`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct OwnerReference {
    /// Owner's apiVersion.
    pub api_version: String,
    /// Owner's kind.
    pub kind: String,
    /// Owner's name (same namespace as the dependent).
    pub name: String,
    /// Owner's uid: a re-created owner of the same name is a different owner.
    pub uid: String,
    /// True for the one owner that manages this object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controller: Option<bool>,
    /// With foreground deletion, the owner waits for this dependent to go first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_owner_deletion: Option<bool>,
}
