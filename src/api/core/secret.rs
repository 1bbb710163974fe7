//! The [`Secret`] kind (core/v1): confidential key-value data whose values never show.

use super::{is_config_key, CONFIG_KEY_MESSAGE};
use crate::api::{ApiVersion, Extra, FieldError, Kind, Map, ObjectMeta};
use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fmt;

/// A Secret (core/v1): confidential key-value data (passwords, tokens, keys).
///
/// `data` holds each value base64-encoded, as on the wire. `stringData` is accepted on
/// input and merged into `data` as it is decoded (its values base64-encoded, winning over
/// a `data` entry of the same key), so it is never stored nor returned, as in Kubernetes.
/// `type` defaults to `Opaque`.
///
/// The values never show: the `Debug` form lists keys and sizes only, validation errors
/// name the key (`data[password]`) but never the value, and the node agent's messages name
/// the Secret and the key.
///
/// ```
/// use steady::api::Secret;
/// let s: Secret = serde_json::from_value(serde_json::json!({
///     "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds"},
///     "data": {"user": "YWRtaW4="},
///     "stringData": {"password": "hunter2"}
/// })).unwrap();
/// assert_eq!(s.type_, "Opaque");
/// assert_eq!(s.data["password"], "aHVudGVyMg==");
/// assert_eq!(s.decoded("user").unwrap().unwrap(), b"admin");
/// assert!(!format!("{s:?}").contains("aHVudGVyMg=="));
/// ```
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", from = "SecretWire")]
pub struct Secret {
    /// `apiVersion`: always `v1`.
    #[serde(rename = "apiVersion", default)]
    pub api_version: ApiVersion<Self>,
    /// `kind`: always `Secret`.
    #[serde(default)]
    pub kind: Kind<Self>,
    /// `metadata`.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// Values by key, each base64-encoded (standard alphabet, padded).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub data: Map<String, String>,
    /// `type`: `Opaque` (the default), `kubernetes.io/tls`, `kubernetes.io/basic-auth`...
    /// steady does not check the keys a type requires.
    #[serde(rename = "type", default = "opaque")]
    pub type_: String,
    /// When true, the data can no longer change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub immutable: Option<bool>,
    /// Unmodelled top-level fields.
    #[serde(flatten)]
    pub extra: Extra,
}

fn opaque() -> String {
    "Opaque".to_string()
}

/// The Secret as read: with `stringData`, which [`Secret`] folds into `data`.
#[derive(Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
struct SecretWire {
    #[serde(rename = "apiVersion", default)]
    api_version: ApiVersion<Secret>,
    #[serde(default)]
    kind: Kind<Secret>,
    #[serde(default)]
    metadata: ObjectMeta,
    #[serde(default, deserialize_with = "secret_values")]
    data: Map<String, String>,
    #[serde(default, deserialize_with = "secret_values")]
    string_data: Map<String, String>,
    #[serde(rename = "type", default)]
    type_: Option<String>,
    #[serde(default)]
    immutable: Option<bool>,
    #[serde(flatten)]
    extra: Extra,
}

impl From<SecretWire> for Secret {
    fn from(w: SecretWire) -> Self {
        let mut data = w.data;
        for (k, v) in w.string_data {
            data.insert(k, crate::api::base64::encode(v.as_bytes()));
        }
        Secret {
            api_version: w.api_version,
            kind: w.kind,
            metadata: w.metadata,
            data,
            type_: w.type_.filter(|t| !t.is_empty()).unwrap_or_else(opaque),
            immutable: w.immutable,
            extra: w.extra,
        }
    }
}

/// A map of string values whose decode errors never quote a value (serde's would: "invalid
/// type: integer `1234`").
fn secret_values<'de, D: Deserializer<'de>>(d: D) -> Result<Map<String, String>, D::Error> {
    let raw = Map::<String, Value>::deserialize(d)?;
    let mut out = Map::new();
    for (k, v) in raw {
        match v {
            Value::String(s) => {
                out.insert(k, s);
            }
            Value::Null => {}
            _ => {
                return Err(de::Error::custom(format!(
                    "[{k}]: the value must be a string"
                )))
            }
        }
    }
    Ok(out)
}

impl fmt::Debug for Secret {
    /// Keys and the size of each value, never the values.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Redacted<'a>(&'a Map<String, String>);
        impl fmt::Debug for Redacted<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let mut m = f.debug_map();
                for (k, v) in self.0 {
                    m.entry(k, &format_args!("<redacted, {} base64 chars>", v.len()));
                }
                m.finish()
            }
        }
        f.debug_struct("Secret")
            .field("metadata", &self.metadata)
            .field("type", &self.type_)
            .field("data", &Redacted(&self.data))
            .field("immutable", &self.immutable)
            .finish_non_exhaustive()
    }
}

impl Secret {
    /// The value of `key`, decoded: `None` when there is no such key, an error when it is not
    /// valid base64 (admission refuses that, so only for a Secret never stored).
    pub fn decoded(&self, key: &str) -> Option<Result<Vec<u8>, crate::api::base64::DecodeError>> {
        self.data.get(key).map(|v| crate::api::base64::decode(v))
    }

    /// Sets `key` to `value` (encoded into `data`).
    pub fn insert(&mut self, key: &str, value: &[u8]) {
        self.data
            .insert(key.to_string(), crate::api::base64::encode(value));
    }
}

crate::impl_resource!(
    Secret,
    api_version = "v1",
    kind = "Secret",
    plural = "secrets",
    namespaced = true,
    spec = [data, type_, immutable, extra],
    status = [],
    validate = validate_secret,
    validate_update = crate::api::immutable::secret
);

/// Admission checks of a [`Secret`]: keys as for a ConfigMap, values valid base64. Errors
/// name the key (`data[password]`), never the value.
pub fn validate_secret(s: &Secret, errors: &mut Vec<FieldError>) {
    for (k, v) in &s.data {
        if !is_config_key(k) {
            errors.push(FieldError::new(format!("data[{k}]"), CONFIG_KEY_MESSAGE));
        }
        if let Err(e) = crate::api::base64::decode(v) {
            errors.push(FieldError::new(
                format!("data[{k}]"),
                format!("Invalid value: the value is not valid base64: {e}"),
            ));
        }
    }
    // The keys the built-in types require, as kube-apiserver's validation does.
    let required: &[&str] = match s.type_.as_str() {
        "kubernetes.io/tls" => &["tls.crt", "tls.key"],
        "kubernetes.io/ssh-auth" => &["ssh-privatekey"],
        "kubernetes.io/dockercfg" => &[".dockercfg"],
        "kubernetes.io/dockerconfigjson" => &[".dockerconfigjson"],
        _ => &[],
    };
    for key in required {
        if !s.data.contains_key(*key) {
            errors.push(FieldError::new(format!("data[{key}]"), "Required value"));
        }
    }
    if s.type_ == "kubernetes.io/basic-auth"
        && !s.data.contains_key("username")
        && !s.data.contains_key("password")
    {
        errors.push(FieldError::new(
            "data",
            "Required value: at least one of username or password is required",
        ));
    }
    if s.type_ == "kubernetes.io/service-account-token"
        && !s
            .metadata
            .annotations
            .contains_key("kubernetes.io/service-account.name")
    {
        errors.push(FieldError::new(
            "metadata.annotations[kubernetes.io/service-account.name]",
            "Required value",
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Object;
    use serde_json::json;

    fn round_trip<K: serde::de::DeserializeOwned + Serialize>(v: Value) -> K {
        let k: K = serde_json::from_value(v.clone()).expect("decodes");
        assert_eq!(serde_json::to_value(&k).expect("encodes"), v);
        k
    }

    fn fields(errors: &[FieldError]) -> Vec<&str> {
        errors.iter().map(|e| e.field.as_str()).collect()
    }

    #[test]
    fn secret_string_data_is_merged_into_data_and_never_stored() {
        let s: Secret = serde_json::from_value(json!({
            "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds"},
            "data": {"user": "YWRtaW4=", "password": "b2xk"},
            "stringData": {"password": "hunter2"}
        }))
        .unwrap();
        assert_eq!(s.type_, "Opaque");
        assert_eq!(s.decoded("password").unwrap().unwrap(), b"hunter2");
        assert_eq!(s.decoded("user").unwrap().unwrap(), b"admin");
        let v = serde_json::to_value(&s).unwrap();
        assert!(v.get("stringData").is_none(), "{v}");
        assert_eq!(v["type"], "Opaque");
        let tls: Secret = round_trip(json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {}, "type": "kubernetes.io/tls"}));
        assert_eq!(tls.type_, "kubernetes.io/tls");
    }

    #[test]
    fn secret_errors_and_debug_name_keys_never_values() {
        let s: Secret = serde_json::from_value(json!({
            "kind": "Secret", "metadata": {"name": "creds"},
            "data": {"password": "aHVudGVy!!", "ok": "b2s=", "bad key": "b2s="}
        }))
        .unwrap();
        let mut errors = Vec::new();
        s.validate(&mut errors);
        assert_eq!(fields(&errors), vec!["data[bad key]", "data[password]"]);
        let text = format!("{errors:?}");
        assert!(!text.contains("aHVudGVy"), "{text}");
        let debug = format!("{s:?}");
        assert!(
            debug.contains("password") && !debug.contains("aHVudGVy"),
            "{debug}"
        );
        assert!(!debug.contains("b2s="), "{debug}");

        let registry = crate::api::Registry::new();
        crate::api::register_builtins(&registry);
        let err = registry
            .get("Secret")
            .unwrap()
            .decode(json!({"kind": "Secret", "data": {"pin": 987654321}}))
            .unwrap_err();
        assert!(err.field.starts_with("data"), "{err:?}");
        assert!(!format!("{err:?}").contains("987654321"), "{err:?}");
    }

    #[test]
    fn built_in_secret_types_require_their_keys() {
        let secret = |t: &str, data: Value| -> Secret {
            serde_json::from_value(json!({"apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": "s"}, "type": t, "data": data}))
            .unwrap()
        };
        let mut e = Vec::new();
        validate_secret(
            &secret("kubernetes.io/tls", json!({"tls.key": "YQ=="})),
            &mut e,
        );
        assert_eq!(fields(&e), ["data[tls.crt]"]);
        let mut e = Vec::new();
        validate_secret(&secret("kubernetes.io/basic-auth", json!({})), &mut e);
        assert_eq!(fields(&e), ["data"]);
        let mut e = Vec::new();
        validate_secret(
            &secret("kubernetes.io/basic-auth", json!({"username": "YQ=="})),
            &mut e,
        );
        validate_secret(&secret("Opaque", json!({})), &mut e);
        assert!(e.is_empty(), "{e:?}");
    }
}
