//! The few protobuf bodies kubectl sends whatever the server prefers: client-go's typed
//! clients (`kubectl drain`, `kubectl delete` of pods by some paths) encode `DeleteOptions`
//! and `Eviction` in Kubernetes' protobuf envelope. They are read into the JSON form the
//! handlers take; any other protobuf body is refused with 415, naming JSON.
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
}
