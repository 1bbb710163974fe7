//! The few protobuf bodies kubectl sends whatever the server prefers: client-go's typed
//! clients (`kubectl drain`, `kubectl delete` of pods by some paths) encode `DeleteOptions`
//! and `Eviction`, and `kubectl create namespace|configmap|secret` their objects, in
//! Kubernetes' protobuf envelope. They are read into the JSON form the handlers take (an
//! object field steady does not read is refused, never dropped); any other protobuf body is
//! refused with 415, naming JSON.
//!
//! The envelope is the 4 bytes `k8s\0` then a `runtime.Unknown` message: `typeMeta` (1:
//! `apiVersion` 1, `kind` 2), `raw` (2: the object's own message). Fields as in
//! `k8s.io/apimachinery/pkg/apis/meta/v1/generated.proto` and `k8s.io/api/policy/v1`.

use serde_json::{json, Map, Value};

/// One field of a message: its number and value.
enum Field<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
}

fn varint(b: &[u8], at: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *b.get(*at)?;
        *at += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// The fields of message `b`, in order; `None` when it is malformed.
fn fields(b: &[u8]) -> Option<Vec<(u64, Field<'_>)>> {
    let mut at = 0;
    let mut out = Vec::new();
    while at < b.len() {
        let key = varint(b, &mut at)?;
        let (number, wire) = (key >> 3, key & 7);
        let f = match wire {
            0 => Field::Varint(varint(b, &mut at)?),
            2 => {
                let len = usize::try_from(varint(b, &mut at)?).ok()?;
                let end = at.checked_add(len).filter(|e| *e <= b.len())?;
                let f = Field::Bytes(&b[at..end]);
                at = end;
                f
            }
            1 => {
                at = at.checked_add(8).filter(|e| *e <= b.len())?;
                continue;
            }
            5 => {
                at = at.checked_add(4).filter(|e| *e <= b.len())?;
                continue;
            }
            _ => return None,
        };
        out.push((number, f));
    }
    Some(out)
}

fn text(f: &Field<'_>) -> Option<String> {
    match f {
        Field::Bytes(b) => String::from_utf8(b.to_vec()).ok(),
        Field::Varint(_) => None,
    }
}

fn delete_options(b: &[u8]) -> Option<Value> {
    let mut o = Map::new();
    for (n, f) in fields(b)? {
        match (n, &f) {
            (1, Field::Varint(v)) => {
                o.insert("gracePeriodSeconds".into(), json!(*v as i64));
            }
            (2, Field::Bytes(p)) => {
                let mut pre = Map::new();
                for (m, g) in fields(p)? {
                    let key = match m {
                        1 => "uid",
                        2 => "resourceVersion",
                        _ => continue,
                    };
                    pre.insert(key.into(), json!(text(&g)?));
                }
                o.insert("preconditions".into(), Value::Object(pre));
            }
            (3, Field::Varint(v)) => {
                o.insert("orphanDependents".into(), json!(*v != 0));
            }
            (4, _) => {
                o.insert("propagationPolicy".into(), json!(text(&f)?));
            }
            (5, _) => {
                o.entry("dryRun")
                    .or_insert_with(|| json!([]))
                    .as_array_mut()?
                    .push(json!(text(&f)?));
            }
            _ => {}
        }
    }
    Some(Value::Object(o))
}

fn eviction(b: &[u8]) -> Option<Value> {
    let mut e = json!({"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {}});
    for (n, f) in fields(b)? {
        match (n, f) {
            (1, Field::Bytes(m)) => {
                for (k, g) in fields(m)? {
                    let key = match k {
                        1 => "name",
                        3 => "namespace",
                        _ => continue,
                    };
                    e["metadata"][key] = json!(text(&g)?);
                }
            }
            (2, Field::Bytes(d)) => e["deleteOptions"] = delete_options(d)?,
            _ => {}
        }
    }
    Some(e)
}

/// True for a field that says nothing: zero, empty, or a message of such fields (Go's
/// generated encoders write every non-pointer field, set or not: an empty `selfLink`, a zero
/// `creationTimestamp`).
fn is_unset(f: &Field<'_>) -> bool {
    match f {
        Field::Varint(v) => *v == 0,
        Field::Bytes(b) => {
            b.is_empty()
                || fields(b).is_some_and(|fs| !fs.is_empty() && fs.iter().all(|(_, g)| is_unset(g)))
        }
    }
}

/// A `map<string, string>` entry (`key` 1, `value` 2); `bytes` values come back base64.
fn map_entry(b: &[u8], bytes: bool) -> Result<(String, String), String> {
    let (mut k, mut v) = (String::new(), String::new());
    for (n, f) in fields(b).ok_or("malformed map entry")? {
        match (n, &f) {
            (1, _) => k = text(&f).ok_or("malformed map key")?,
            (2, Field::Bytes(raw)) if bytes => v = crate::api::base64::encode(raw),
            (2, _) => v = text(&f).ok_or("malformed map value")?,
            _ => return Err(format!("map entry field {n}")),
        }
    }
    Ok((k, v))
}

fn insert_entry(
    o: &mut Map<String, Value>,
    key: &str,
    b: &[u8],
    bytes: bool,
) -> Result<(), String> {
    let (k, v) = map_entry(b, bytes)?;
    o.entry(key)
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .ok_or("not a map")?
        .insert(k, json!(v));
    Ok(())
}

/// ObjectMeta as clients set it on create: name, generateName, namespace, labels,
/// annotations, finalizers. Any other field is refused (never dropped unread).
fn object_meta(b: &[u8]) -> Result<Value, String> {
    let mut m = Map::new();
    for (n, f) in fields(b).ok_or("malformed metadata")? {
        let s = || text(&f).ok_or(format!("metadata field {n}"));
        match (n, &f) {
            // Go writes every string field, set or not.
            _ if is_unset(&f) => {}
            (1, _) => {
                m.insert("name".into(), json!(s()?));
            }
            (2, _) => {
                m.insert("generateName".into(), json!(s()?));
            }
            (3, _) => {
                m.insert("namespace".into(), json!(s()?));
            }
            (11, Field::Bytes(e)) => insert_entry(&mut m, "labels", e, false)?,
            (12, Field::Bytes(e)) => insert_entry(&mut m, "annotations", e, false)?,
            (14, _) => {
                m.entry("finalizers")
                    .or_insert_with(|| json!([]))
                    .as_array_mut()
                    .ok_or("finalizers")?
                    .push(json!(s()?));
            }
            _ => return Err(format!("metadata field {n} is not read from protobuf")),
        }
    }
    Ok(Value::Object(m))
}

/// The simple core/v1 objects `kubectl create namespace|configmap|secret` send in protobuf.
fn core_object(kind: &str, b: &[u8]) -> Result<Value, String> {
    let mut o = Map::new();
    o.insert("apiVersion".into(), json!("v1"));
    o.insert("kind".into(), json!(kind));
    for (n, f) in fields(b).ok_or("malformed object")? {
        match (kind, n, &f) {
            (_, 1, Field::Bytes(m)) => {
                o.insert("metadata".into(), object_meta(m)?);
            }
            ("Namespace", 2, Field::Bytes(spec)) => {
                let mut finalizers = Vec::new();
                for (m, g) in fields(spec).ok_or("malformed spec")? {
                    match m {
                        1 => finalizers.push(json!(text(&g).ok_or("finalizer")?)),
                        _ => return Err(format!("Namespace spec field {m}")),
                    }
                }
                o.insert("spec".into(), json!({"finalizers": finalizers}));
            }
            // A status on create is dropped by the store, as by kube-apiserver.
            ("Namespace", 3, _) => {}
            ("ConfigMap", 2, Field::Bytes(e)) => insert_entry(&mut o, "data", e, false)?,
            ("ConfigMap", 3, Field::Bytes(e)) => insert_entry(&mut o, "binaryData", e, true)?,
            ("ConfigMap", 4, Field::Varint(v)) | ("Secret", 5, Field::Varint(v)) => {
                o.insert("immutable".into(), json!(*v != 0));
            }
            ("Secret", 2, Field::Bytes(e)) => insert_entry(&mut o, "data", e, true)?,
            ("Secret", 3, _) => {
                o.insert("type".into(), json!(text(&f).ok_or("type")?));
            }
            ("Secret", 4, Field::Bytes(e)) => insert_entry(&mut o, "stringData", e, false)?,
            _ if is_unset(&f) => {}
            _ => return Err(format!("{kind} field {n} is not read from protobuf")),
        }
    }
    Ok(Value::Object(o))
}

/// The JSON form of a protobuf body, for the kinds kubectl sends that way; `Err` names
/// what could not be read.
pub fn decode(body: &[u8]) -> Result<Value, String> {
    let unknown = body
        .strip_prefix(b"k8s\0")
        .ok_or("a protobuf body starts with the k8s envelope")?;
    let mut kind = String::new();
    let mut raw: &[u8] = &[];
    for (n, f) in fields(unknown).ok_or("malformed protobuf envelope")? {
        match (n, f) {
            (1, Field::Bytes(tm)) => {
                for (m, g) in fields(tm).ok_or("malformed protobuf typeMeta")? {
                    if m == 2 {
                        kind = text(&g).unwrap_or_default();
                    }
                }
            }
            (2, Field::Bytes(r)) => raw = r,
            _ => {}
        }
    }
    let value = match kind.as_str() {
        "DeleteOptions" => delete_options(raw),
        "Eviction" => eviction(raw),
        "Namespace" | "ConfigMap" | "Secret" => {
            return core_object(&kind, raw).map_err(|e| {
                format!("{e}: send the object as application/json (kubectl apply -f)")
            })
        }
        other => {
            return Err(format!(
                "{other} in protobuf: accepted media types include application/json"
            ))
        }
    };
    value.ok_or_else(|| format!("malformed protobuf {kind}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(n: u64, payload: &[u8]) -> Vec<u8> {
        let mut v = vec![((n << 3) | 2) as u8, payload.len() as u8];
        v.extend_from_slice(payload);
        v
    }

    fn envelope(kind: &str, raw: &[u8]) -> Vec<u8> {
        let type_meta = [field(1, b"v1"), field(2, kind.as_bytes())].concat();
        let mut b = b"k8s\0".to_vec();
        b.extend(field(1, &type_meta));
        b.extend(field(2, raw));
        b
    }

    #[test]
    fn delete_options_and_evictions_read_as_json() {
        let pre = field(1, b"u-1");
        let opts = [vec![0x08, 30], field(2, &pre), field(4, b"Foreground")].concat();
        let v = decode(&envelope("DeleteOptions", &opts)).unwrap();
        assert_eq!(
            v,
            json!({"gracePeriodSeconds": 30, "preconditions": {"uid": "u-1"},
                   "propagationPolicy": "Foreground"})
        );
        let meta = [field(1, b"web-0"), field(3, b"prod")].concat();
        let ev = [field(1, &meta), field(2, &[0x08, 0])].concat();
        let v = decode(&envelope("Eviction", &ev)).unwrap();
        assert_eq!(v["metadata"]["name"], "web-0");
        assert_eq!(v["deleteOptions"]["gracePeriodSeconds"], 0);
        assert!(decode(&envelope("Pod", &[]))
            .unwrap_err()
            .contains("application/json"));
        assert!(decode(b"{}").is_err());
        assert!(decode(&envelope("DeleteOptions", &[0x12, 0x40])).is_err());
    }

    #[test]
    fn created_namespaces_config_maps_and_secrets_read_as_json() {
        let meta = [
            field(1, b"team-a"),
            field(11, &[field(1, b"tier"), field(2, b"front")].concat()),
        ]
        .concat();
        let ns = decode(&envelope("Namespace", &field(1, &meta))).unwrap();
        assert_eq!(
            ns,
            json!({"apiVersion": "v1", "kind": "Namespace",
                   "metadata": {"name": "team-a", "labels": {"tier": "front"}}})
        );
        let cm = [
            field(1, &field(1, b"settings")),
            field(2, &[field(1, b"color"), field(2, b"blue")].concat()),
        ]
        .concat();
        let cm = decode(&envelope("ConfigMap", &cm)).unwrap();
        assert_eq!(cm["data"], json!({"color": "blue"}));
        let secret = [
            field(1, &field(1, b"creds")),
            field(2, &[field(1, b"password"), field(2, b"hunter2")].concat()),
            field(3, b"Opaque"),
        ]
        .concat();
        let secret = decode(&envelope("Secret", &secret)).unwrap();
        assert_eq!(secret["data"]["password"], "aHVudGVyMg==");
        assert_eq!(secret["type"], "Opaque");
        // What Go writes for fields left unset (an empty selfLink, a zero creationTimestamp)
        // says nothing; a metadata field steady does not read (ownerReferences, 13) that is
        // set is refused, not dropped.
        let unset = [field(1, b"n"), field(4, b""), field(8, &[0x08, 0, 0x10, 0])].concat();
        assert!(decode(&envelope("ConfigMap", &field(1, &unset))).is_ok());
        let owned = field(1, &field(13, b"x"));
        assert!(decode(&envelope("ConfigMap", &owned))
            .unwrap_err()
            .contains("metadata field 13"));
    }
}
