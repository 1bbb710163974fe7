//! The kind registry: which kinds are typed, their apiVersion, scope and decoder.
//!
//! Kinds are filed by their `kind` name. A kind that is not registered is a custom kind: it is
//! registered on first use as a namespaced [`DynamicObject`] kind.

use super::dynamic::DynamicObject;
use super::error::FieldError;
use super::object::{Object, Resource};
use parking_lot::RwLock;
use serde_json::Value;
use std::any::TypeId;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

type DecodeFn = fn(Value) -> Result<Arc<dyn Object>, FieldError>;

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
    type_id: TypeId,
    decode: DecodeFn,
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

fn decode_typed<K: Resource>(value: Value) -> Result<Arc<dyn Object>, FieldError> {
    serde_path_to_error::deserialize::<_, K>(value)
        .map(|k| Arc::new(k) as Arc<dyn Object>)
        .map_err(|e| {
            let path = e.path().to_string();
            let field = if path == "." { String::new() } else { path };
            FieldError::new(field, e.into_inner().to_string())
        })
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
            type_id: TypeId::of::<K>(),
            decode: decode_typed::<K>,
        }
    }

    /// The registration of a custom kind held as [`DynamicObject`]s.
    pub fn dynamic(api_version: &str, kind: &str, namespaced: bool) -> Self {
        KindInfo {
            api_version: api_version.to_string(),
            kind: kind.to_string(),
            plural: format!("{}s", kind.to_ascii_lowercase()),
            namespaced,
            type_id: TypeId::of::<DynamicObject>(),
            decode: decode_dynamic,
        }
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
        (self.decode)(value)
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

    /// The kind registered under `kind`, registering it as a namespaced custom kind with
    /// `api_version` when it is unknown.
    pub fn get_or_dynamic(&self, api_version: &str, kind: &str) -> Arc<KindInfo> {
        if let Some(k) = self.get(kind) {
            return k;
        }
        let (info, fresh) = {
            let mut kinds = self.kinds.write();
            match kinds.get(kind) {
                Some(k) => (k.clone(), false),
                None => {
                    let k = Arc::new(KindInfo::dynamic(api_version, kind, true));
                    kinds.insert(kind.to_string(), k.clone());
                    (k, true)
                }
            }
        };
        if fresh {
            self.announce(&info);
        }
        info
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
        r.get_or_dynamic("example.com/v1", "Widget");
        r.get_or_dynamic("example.com/v1", "Widget");
        r.register(KindInfo::dynamic("example.com/v1", "Gadget", false));
        r.register(KindInfo::dynamic("example.com/v1", "Gadget", true));
        assert_eq!(*seen.lock().unwrap(), ["Widget", "Gadget"]);
    }
}
