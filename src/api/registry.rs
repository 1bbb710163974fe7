//! The kind registry: which kinds are typed, their apiVersion, scope and decoder.
//!
//! Kinds are filed by their `kind` name. The registry is the one table of kinds served: the
//! built-ins, the custom kinds registered by engine configuration (Rust, C, Python) and those
//! registered by a `CustomResourceDefinition`. A kind that is not in it is not served: apply,
//! validate, the dynamic API and the C/Python APIs refuse it, naming it (never a silent
//! custom kind).

use super::dynamic::DynamicObject;
use super::object::{Object, Resource};
use crate::error::FieldError;
use parking_lot::RwLock;
use serde_json::Value;
use std::any::TypeId;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

/// Decodes a typed kind.
type DecodeFn = fn(&Value) -> Result<Arc<dyn Object>, FieldError>;

/// What the store knows about one kind.
pub struct KindInfo {
    /// `apiVersion` objects of this kind carry.
    pub api_version: String,
    /// `kind`.
    pub kind: String,
    /// Lower-case plural.
    pub plural: String,
    /// False for cluster-scoped kinds.
    pub namespaced: bool,
    /// Further apiVersions objects of this kind may carry (a CustomResourceDefinition serving
    /// several versions); `api_version` is always served.
    pub served_versions: Vec<String>,
    /// The CustomResourceDefinition that registered this kind, by name; `None` for built-ins
    /// and kinds registered by configuration.
    pub definition: Option<String>,
    type_id: TypeId,
    /// `None` for a custom kind: [`DynamicObject`]s are decoded by moving the value in.
    decode: Option<DecodeFn>,
}

impl fmt::Debug for KindInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KindInfo")
            .field("api_version", &self.api_version)
            .field("kind", &self.kind)
            .field("namespaced", &self.namespaced)
            .finish()
    }
}

/// Decodes a typed object from a borrowed value: straight through serde, and only when that
/// fails a second time through `serde_path_to_error`, for the path of the offending field
/// (path tracking allocates a string per key: too dear for every decode).
fn decode_typed<K: Resource>(value: &Value) -> Result<Arc<dyn Object>, FieldError> {
    if let Ok(k) = K::deserialize(value) {
        return Ok(Arc::new(k) as Arc<dyn Object>);
    }
    serde_path_to_error::deserialize::<_, K>(value)
        .map(|k| Arc::new(k) as Arc<dyn Object>)
        .map_err(|e| {
            let path = e.path().to_string();
            let field = if path == "." { String::new() } else { path };
            let mut message = e.into_inner().to_string();
            // serde quotes the offending value; a Secret's values never appear in errors.
            if K::KIND == "Secret" {
                message = redact_quoted(&message);
            }
            FieldError::new(field, message)
        })
}

/// `message` with every double-quoted part replaced by `"<redacted>"`.
fn redact_quoted(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut parts = message.split('"');
    if let Some(first) = parts.next() {
        out.push_str(first);
    }
    let mut inside = true;
    for part in parts {
        if inside {
            out.push_str("\"<redacted>\"");
        } else {
            out.push_str(part);
        }
        inside = !inside;
    }
    out
}

fn decode_dynamic(value: Value) -> Result<Arc<dyn Object>, FieldError> {
    serde_path_to_error::deserialize::<_, DynamicObject>(value)
        .map(|k| Arc::new(k) as Arc<dyn Object>)
        .map_err(|e| FieldError::new(e.path().to_string(), e.into_inner().to_string()))
}

impl KindInfo {
    /// The registration of a typed kind.
    pub fn of<K: Resource>() -> Self {
        KindInfo {
            api_version: K::API_VERSION.to_string(),
            kind: K::KIND.to_string(),
            plural: K::PLURAL.to_string(),
            namespaced: K::NAMESPACED,
            served_versions: Vec::new(),
            definition: None,
            type_id: TypeId::of::<K>(),
            decode: Some(decode_typed::<K>),
        }
    }

    /// The registration of a custom kind held as [`DynamicObject`]s.
    pub fn dynamic(api_version: &str, kind: &str, namespaced: bool) -> Self {
        KindInfo {
            api_version: api_version.to_string(),
            kind: kind.to_string(),
            plural: format!("{}s", kind.to_ascii_lowercase()),
            namespaced,
            served_versions: Vec::new(),
            definition: None,
            type_id: TypeId::of::<DynamicObject>(),
            decode: None,
        }
    }

    /// True when objects of this kind may carry `api_version`.
    pub fn serves(&self, api_version: &str) -> bool {
        self.api_version == api_version || self.served_versions.iter().any(|v| v == api_version)
    }

    /// True when objects of this kind are held as [`DynamicObject`]s.
    pub fn is_dynamic(&self) -> bool {
        self.type_id == TypeId::of::<DynamicObject>()
    }

    /// True when objects of this kind are held as `K`.
    pub fn holds<K: 'static>(&self) -> bool {
        self.type_id == TypeId::of::<K>()
    }

    /// Decodes a JSON object of this kind. Errors name the offending field.
    pub fn decode(&self, value: Value) -> Result<Arc<dyn Object>, FieldError> {
        match self.decode {
            Some(typed) => typed(&value),
            None => decode_dynamic(value),
        }
    }

    /// Decodes a JSON object of this kind, leaving `value` to the caller. Errors name the
    /// offending field.
    pub fn decode_ref(&self, value: &Value) -> Result<Arc<dyn Object>, FieldError> {
        match self.decode {
            Some(typed) => typed(value),
            None => decode_dynamic(value.clone()),
        }
    }
}

/// Called with each kind the first time it is registered (see [`Registry::on_register`]).
pub type RegisterHook = Arc<dyn Fn(&Arc<KindInfo>) + Send + Sync>;

/// The set of known kinds. Cheap to read from many threads.
#[derive(Default)]
pub struct Registry {
    kinds: RwLock<HashMap<String, Arc<KindInfo>>>,
    hooks: RwLock<Vec<RegisterHook>>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry")
            .field("kinds", &self.kinds.read().len())
            .field("hooks", &self.hooks.read().len())
            .finish()
    }
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers (or replaces) a kind.
    pub fn register(&self, info: KindInfo) -> Arc<KindInfo> {
        let info = Arc::new(info);
        let fresh = self
            .kinds
            .write()
            .insert(info.kind.clone(), info.clone())
            .is_none();
        if fresh {
            self.announce(&info);
        }
        info
    }

    /// Runs `hook` for every kind registered from now on, the first time its name is
    /// registered (custom kinds included: they are registered on first use). The hook runs
    /// on the registering thread after the registry's lock is released, so it may read the
    /// registry; kinds registered before the hook was added are in [`Registry::all`].
    pub fn on_register(&self, hook: RegisterHook) {
        self.hooks.write().push(hook);
    }

    fn announce(&self, info: &Arc<KindInfo>) {
        // Cloned out: a hook may add another hook or register a kind itself.
        let hooks: Vec<RegisterHook> = self.hooks.read().clone();
        for h in hooks {
            h(info);
        }
    }

    /// Registers a typed kind unless a kind of that name exists already.
    pub fn register_type<K: Resource>(&self) -> Arc<KindInfo> {
        if let Some(k) = self.get(K::KIND) {
            return k;
        }
        self.register(KindInfo::of::<K>())
    }

    /// The kind registered under `kind`.
    pub fn get(&self, kind: &str) -> Option<Arc<KindInfo>> {
        self.kinds.read().get(kind).cloned()
    }

    /// The kind `kind` when it is served as `api_version`.
    pub fn served(&self, api_version: &str, kind: &str) -> Option<Arc<KindInfo>> {
        self.get(kind).filter(|k| k.serves(api_version))
    }

    /// Removes the registration of `kind` (a deleted CustomResourceDefinition's kind) and
    /// returns it.
    pub fn unregister(&self, kind: &str) -> Option<Arc<KindInfo>> {
        self.kinds.write().remove(kind)
    }

    /// Every registered kind.
    pub fn all(&self) -> Vec<Arc<KindInfo>> {
        self.kinds.read().values().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn hooks_hear_each_new_kind_once() {
        let r = Registry::new();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        r.on_register(Arc::new(move |k: &Arc<KindInfo>| {
            s.lock().unwrap().push(k.kind.clone())
        }));
        r.register(KindInfo::dynamic("example.com/v1", "Widget", true));
        r.register(KindInfo::dynamic("example.com/v1", "Widget", true));
        r.register(KindInfo::dynamic("example.com/v1", "Gadget", false));
        r.register(KindInfo::dynamic("example.com/v1", "Gadget", true));
        assert_eq!(*seen.lock().unwrap(), ["Widget", "Gadget"]);
    }
}

#[cfg(test)]
mod served_tests {
    use super::*;

    #[test]
    fn a_secret_s_value_never_shows_in_a_decode_error() {
        let info = KindInfo::of::<crate::api::Secret>();
        let err = info
            .decode(serde_json::json!({"apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": "s"}, "data": "topsecret9"}))
            .unwrap_err();
        assert_eq!(err.field, "data");
        assert!(!err.message.contains("topsecret9"), "{}", err.message);
        assert!(err.message.contains("<redacted>"), "{}", err.message);
    }

    #[test]
    fn a_kind_is_served_only_in_its_versions_and_unregistered_no_more() {
        let r = Registry::new();
        let mut info = KindInfo::dynamic("example.com/v1", "Widget", true);
        info.served_versions.push("example.com/v1beta1".into());
        r.register(info);
        assert!(r.served("example.com/v1", "Widget").is_some());
        assert!(r.served("example.com/v1beta1", "Widget").is_some());
        assert!(r.served("example.com/v2", "Widget").is_none());
        assert!(r.served("example.com/v1", "Gadget").is_none());
        assert!(r.unregister("Widget").is_some());
        assert!(r.get("Widget").is_none());
    }
}
