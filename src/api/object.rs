//! The object traits: [`Object`] (any stored object, type-erased) and [`Resource`] (a typed kind).
//!
//! The store keeps every object as an `Arc<dyn Object>`; typed APIs downcast to `Arc<K>`
//! without copying. A typed kind implements both traits through [`impl_resource!`]; custom
//! kinds are [`DynamicObject`](super::DynamicObject)s.

use super::meta::ObjectMeta;
use crate::error::FieldError;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use std::any::Any;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

/// Any object the store can hold: a typed kind or a [`DynamicObject`](super::DynamicObject).
pub trait Object: Send + Sync + fmt::Debug + 'static {
    /// `apiVersion`, e.g. `apps/v1`.
    fn api_version(&self) -> &str;
    /// `kind`, e.g. `Deployment`.
    fn kind(&self) -> &str;
    /// `metadata`.
    fn meta(&self) -> &ObjectMeta;
    /// `metadata`, mutable.
    fn meta_mut(&mut self) -> &mut ObjectMeta;
    /// True when the desired state (`spec`, or every non-status field for kinds without a
    /// spec) equals `other`'s. The store bumps `generation` exactly when this is false.
    fn spec_eq(&self, other: &dyn Object) -> bool;
    /// Replaces this object's `status` with `other`'s (the status subresource rule: a normal
    /// update keeps the stored status; `update_status` keeps everything but the status).
    fn set_status_from(&mut self, other: &dyn Object);
    /// True when the status (the fields owned by the status subresource) equals `other`'s.
    fn status_eq(&self, other: &dyn Object) -> bool;
    /// Empties the status: create never takes a status from the client.
    fn clear_status(&mut self);
    /// Full equality with another object of any kind.
    fn eq_dyn(&self, other: &dyn Object) -> bool;
    /// Length in bytes of the object's compact JSON encoding (the size-limit measure).
    fn encoded_len(&self) -> usize;
    /// Length of the JSON encoding of the status alone (0 without a status).
    fn status_len(&self) -> usize;
    /// A boxed deep copy.
    fn clone_boxed(&self) -> Box<dyn Object>;
    /// A deep copy in a new, unshared `Arc`.
    fn clone_arc(&self) -> Arc<dyn Object>;
    /// The object as JSON, as it appears on the wire.
    fn to_value(&self) -> Value;
    /// The object's compact JSON encoding, written straight from the object (no
    /// intermediate [`Value`]): what servers send.
    fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(&self.to_value()).expect("JSON values always serialize")
    }
    /// Kind-specific checks beyond metadata (quantities, probes, selectors...).
    fn validate(&self, errors: &mut Vec<FieldError>) {
        let _ = errors;
    }
    /// Kind-specific checks of an update against the stored object `old` (fields that are
    /// immutable, or may only change in some ways), as kube-apiserver's update validation.
    fn validate_update(&self, old: &dyn Object, errors: &mut Vec<FieldError>) {
        let _ = (old, errors);
    }
    /// Fills in the defaults kube-apiserver gives the kind where the object leaves them out
    /// (on every create and update; `creating` for what only a new object gets, such as a
    /// pod's `Pending` phase). Runs before admission hooks and validation.
    fn set_defaults(&mut self, creating: bool) {
        let _ = creating;
    }
    /// For downcasting a borrowed object.
    fn as_any(&self) -> &dyn Any;
    /// For downcasting a mutably borrowed object (admission hooks that change typed kinds).
    fn as_any_mut(&mut self) -> &mut dyn Any;
    /// For downcasting a shared object without copying it.
    fn into_any_arc(self: Arc<Self>) -> Arc<dyn Any + Send + Sync>;
    /// For downcasting an owned object.
    fn into_any_box(self: Box<Self>) -> Box<dyn Any>;
}

impl dyn Object {
    /// Downcasts a shared object to a typed kind; gives the object back on a type mismatch.
    pub fn downcast_arc<K: Object>(self: Arc<Self>) -> Result<Arc<K>, Arc<dyn Object>> {
        if self.as_any().is::<K>() {
            Ok(self
                .into_any_arc()
                .downcast::<K>()
                .expect("type checked above"))
        } else {
            Err(self)
        }
    }

    /// Downcasts a borrowed object to a typed kind.
    pub fn downcast_ref<K: Object>(&self) -> Option<&K> {
        self.as_any().downcast_ref::<K>()
    }
}

/// The object inside `a`, mutable: `a` is copied first when it is shared, so changing it never
/// changes what other holders see (`Arc::make_mut` for `dyn Object`).
pub fn make_mut(a: &mut Arc<dyn Object>) -> &mut dyn Object {
    if Arc::get_mut(a).is_none() {
        *a = a.clone_arc();
    }
    Arc::get_mut(a).expect("made unique above")
}

/// A typed kind known at compile time (Pod, Deployment, or a user's own struct).
///
/// Implement it with [`impl_resource!`](crate::impl_resource).
pub trait Resource: Object + Clone + Serialize + DeserializeOwned {
    /// `apiVersion` written on the wire.
    const API_VERSION: &'static str;
    /// `kind` written on the wire; also the name the store files the kind under.
    const KIND: &'static str;
    /// Lower-case plural (`pods`), used in messages and metrics.
    const PLURAL: &'static str;
    /// False for cluster-scoped kinds (Node).
    const NAMESPACED: bool;
}

/// The `apiVersion` field of a typed kind: always `K::API_VERSION`, so it cannot be forgotten.
pub struct ApiVersion<K>(PhantomData<fn() -> K>);
/// The `kind` field of a typed kind: always `K::KIND`.
pub struct Kind<K>(PhantomData<fn() -> K>);

macro_rules! tag_impls {
    ($tag:ident, $konst:ident) => {
        impl<K> Default for $tag<K> {
            fn default() -> Self {
                $tag(PhantomData)
            }
        }
        impl<K> Clone for $tag<K> {
            fn clone(&self) -> Self {
                *self
            }
        }
        impl<K> Copy for $tag<K> {}
        impl<K> PartialEq for $tag<K> {
            fn eq(&self, _: &Self) -> bool {
                true
            }
        }
        impl<K: Resource> fmt::Debug for $tag<K> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(K::$konst)
            }
        }
        impl<K: Resource> Serialize for $tag<K> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(K::$konst)
            }
        }
        impl<'de, K: Resource> Deserialize<'de> for $tag<K> {
            // The value was checked against the kind's registration before decoding.
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                serde::de::IgnoredAny::deserialize(d)?;
                Ok($tag(PhantomData))
            }
        }
    };
}
tag_impls!(ApiVersion, API_VERSION);
tag_impls!(Kind, KIND);

/// Implements [`Object`] and [`Resource`] for a typed kind.
///
/// The struct needs fields `api_version: ApiVersion<Self>` (serde rename `apiVersion`),
/// `kind: Kind<Self>` and `metadata: ObjectMeta`. `spec` lists the fields whose change bumps
/// `generation`; `status` lists the fields owned by the status subresource. Optional
/// `validate = path` names a `fn(&Self, &mut Vec<FieldError>)` run on every write of a changed
/// spec, and `validate_update = path` a `fn(&Self, &Self /* stored */, &mut Vec<FieldError>)`
/// run on updates (immutable fields), and `defaults = path` a `fn(&mut Self, creating: bool)`
/// filling in what the object leaves out (see [`Object::set_defaults`]).
///
/// ```
/// use serde::{Deserialize, Serialize};
/// use steady::api::{ApiVersion, Extra, Kind, ObjectMeta};
///
/// #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
/// #[serde(rename_all = "camelCase")]
/// pub struct Widget {
///     pub api_version: ApiVersion<Widget>,
///     pub kind: Kind<Widget>,
///     #[serde(default)]
///     pub metadata: ObjectMeta,
///     #[serde(default)]
///     pub spec: WidgetSpec,
///     #[serde(default)]
///     pub status: Option<serde_json::Value>,
/// }
///
/// #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
/// pub struct WidgetSpec {
///     pub size: u32,
///     #[serde(flatten)]
///     pub extra: Extra,
/// }
///
/// steady::impl_resource!(Widget, api_version = "example.com/v1", kind = "Widget",
///     plural = "widgets", namespaced = true, spec = [spec], status = [status]);
/// ```
#[macro_export]
macro_rules! impl_resource {
    ($ty:ty, api_version = $av:literal, kind = $kind:literal, plural = $plural:literal,
     namespaced = $ns:literal, spec = [$($spec:ident),*], status = [$($status:ident),*]
     $(, validate = $validate:path)? $(, validate_update = $validate_update:path)?
     $(, defaults = $defaults:path)?) => {
        impl $crate::api::Resource for $ty {
            const API_VERSION: &'static str = $av;
            const KIND: &'static str = $kind;
            const PLURAL: &'static str = $plural;
            const NAMESPACED: bool = $ns;
        }

        impl $crate::api::Object for $ty {
            fn api_version(&self) -> &str {
                $av
            }
            fn kind(&self) -> &str {
                $kind
            }
            fn meta(&self) -> &$crate::api::ObjectMeta {
                &self.metadata
            }
            fn meta_mut(&mut self) -> &mut $crate::api::ObjectMeta {
                &mut self.metadata
            }
            fn spec_eq(&self, other: &dyn $crate::api::Object) -> bool {
                match other.as_any().downcast_ref::<Self>() {
                    Some(_o) => true $(&& self.$spec == _o.$spec)*,
                    None => false,
                }
            }
            fn set_status_from(&mut self, other: &dyn $crate::api::Object) {
                if let Some(_o) = other.as_any().downcast_ref::<Self>() {
                    $(self.$status = _o.$status.clone();)*
                }
            }
            fn status_eq(&self, other: &dyn $crate::api::Object) -> bool {
                match other.as_any().downcast_ref::<Self>() {
                    Some(_o) => true $(&& self.$status == _o.$status)*,
                    None => false,
                }
            }
            fn clear_status(&mut self) {
                $(self.$status = ::std::default::Default::default();)*
            }
            fn eq_dyn(&self, other: &dyn $crate::api::Object) -> bool {
                other.as_any().downcast_ref::<Self>().is_some_and(|o| self == o)
            }
            fn encoded_len(&self) -> usize {
                $crate::api::json_len(self)
            }
            fn status_len(&self) -> usize {
                0 $(+ $crate::api::json_len(&self.$status))*
            }
            fn clone_arc(&self) -> ::std::sync::Arc<dyn $crate::api::Object> {
                ::std::sync::Arc::new(::std::clone::Clone::clone(self))
            }
            fn clone_boxed(&self) -> ::std::boxed::Box<dyn $crate::api::Object> {
                ::std::boxed::Box::new(::std::clone::Clone::clone(self))
            }
            fn to_value(&self) -> $crate::__private::serde_json::Value {
                $crate::__private::serde_json::to_value(self)
                    .expect("a typed kind always serializes to JSON")
            }
            fn to_json(&self) -> ::std::vec::Vec<u8> {
                $crate::__private::serde_json::to_vec(self)
                    .expect("a typed kind always serializes to JSON")
            }
            $(
            fn validate(&self, errors: &mut ::std::vec::Vec<$crate::api::FieldError>) {
                $validate(self, errors)
            }
            )?
            $(
            fn validate_update(
                &self,
                old: &dyn $crate::api::Object,
                errors: &mut ::std::vec::Vec<$crate::api::FieldError>,
            ) {
                if let Some(old) = old.as_any().downcast_ref::<Self>() {
                    $validate_update(self, old, errors)
                }
            }
            )?
            $(
            fn set_defaults(&mut self, creating: bool) {
                $defaults(self, creating)
            }
            )?
            fn as_any(&self) -> &dyn ::std::any::Any {
                self
            }
            fn as_any_mut(&mut self) -> &mut dyn ::std::any::Any {
                self
            }
            fn into_any_arc(
                self: ::std::sync::Arc<Self>,
            ) -> ::std::sync::Arc<dyn ::std::any::Any + Send + Sync> {
                self
            }
            fn into_any_box(self: ::std::boxed::Box<Self>) -> ::std::boxed::Box<dyn ::std::any::Any> {
                self
            }
        }
    };
}

/// Length of `value`'s compact JSON encoding, computed without keeping the bytes.
pub fn json_len<T: Serialize + ?Sized>(value: &T) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut c = Count(0);
    // Serializing plain data into a counter cannot fail.
    let _ = serde_json::to_writer(&mut c, value);
    c.0
}
