//! TEMPORARY stand-in, replaced by the full implementation.
#![allow(missing_docs)]
use serde_json::Value;

pub fn merge_patch(target: &mut Value, patch: &Value) {
    if let Value::Object(p) = patch {
        if !target.is_object() {
            *target = Value::Object(Default::default());
        }
        let t = target.as_object_mut().unwrap();
        for (k, v) in p {
            if v.is_null() {
                t.remove(k);
            } else {
                merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
    } else {
        *target = patch.clone();
    }
}

pub fn three_way_merge(last_applied: Option<&Value>, desired: &Value, live: &Value) -> Value {
    let mut out = live.clone();
    if let (Some(Value::Object(last)), Value::Object(o)) = (last_applied, &mut out) {
        for k in last.keys() {
            if desired.get(k).is_none() {
                o.remove(k);
            }
        }
    }
    merge_patch(&mut out, desired);
    out
}

pub fn unknown_fields(input: &Value, known: &Value) -> Vec<String> {
    let _ = (input, known);
    Vec::new()
}
