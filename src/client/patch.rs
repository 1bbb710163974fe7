//! The three patch forms Kubernetes clients send: JSON merge patch (RFC 7386, in
//! [`merge`](super::merge)), JSON patch (RFC 6902) and strategic merge patch.
//!
//! # Strategic merge patch
//!
//! A strategic merge patch is a merge patch whose lists of objects are merged element by
//! element, matched by a *merge key* (containers by `name`, container ports by
//! `containerPort`, ...) instead of replaced whole, as the `patchMergeKey` and
//! `patchStrategy` tags of Kubernetes' Go types say. [`merge_key`] holds those of the
//! built-in kinds; a list without one is replaced, as in a merge patch. The directives
//! kubectl sends are honoured:
//!
//! - `{"$patch": "delete", <key>: <value>}` in a list removes the element with that key;
//!   `{"$patch": "replace"}` in a list replaces the whole list with the other elements;
//!   `"$patch": "replace"` in a map replaces the map, `"$patch": "delete"` removes it.
//! - `"$setElementOrder/<field>": [...]` orders the merged list as given.
//! - `"$deleteFromPrimitiveList/<field>": [...]` removes values from a list of scalars.
//! - `"$retainKeys": [...]` keeps only those keys of the map (after the merge).
//! - `null` removes a key; lists of scalars with a merge strategy (`finalizers`) are merged
//!   as sets.

use serde_json::{Map, Value};

/// The merge key of the list of objects at `path` (object keys from the root, list levels
/// omitted: `["spec", "template", "spec", "containers"]`), or `None` for a list that is
/// replaced whole.
pub fn merge_key(path: &[&str]) -> Option<&'static str> {
    let last = *path.last()?;
    let parent = path.len().checked_sub(2).map(|i| path[i]);
    Some(match last {
        "containers" | "initContainers" | "ephemeralContainers" => "name",
        "ports"
            if matches!(
                parent,
                Some("containers" | "initContainers" | "ephemeralContainers")
            ) =>
        {
            "containerPort"
        }
        // A Service's ports.
        "ports" if parent == Some("spec") => "port",
        "env" | "volumes" | "imagePullSecrets" | "resourceClaims" => "name",
        "volumeMounts" => "mountPath",
        "volumeDevices" => "devicePath",
        "conditions" => "type",
        "ownerReferences" => "uid",
        "hostAliases" => "ip",
        "topologySpreadConstraints" => "topologyKey",
        _ => return None,
    })
}

/// True for the maps whose fields are one choice (`patchStrategy: retainKeys`): a
/// Deployment's `strategy`, a DaemonSet's or StatefulSet's `updateStrategy`, a volume's
/// source. A merge keeps only the keys the new version gives, so switching `type` to
/// `Recreate` drops `rollingUpdate`, and a volume turned from emptyDir to configMap loses
/// its `emptyDir`.
fn retain_keys(path: &[&str]) -> bool {
    matches!(
        path.last(),
        Some(&"strategy" | &"updateStrategy" | &"volumes")
    )
}

/// True for the lists of scalars that are merged as sets (`patchStrategy: merge`), by the
/// path of field names from the object's root.
pub fn is_set_list(path: &[&str]) -> bool {
    matches!(path, ["metadata", "finalizers"])
}

/// Applies a strategic merge patch to `target` (see the module documentation).
pub fn strategic_merge_patch(target: &mut Value, patch: &Value) -> Result<(), String> {
    let mut path = Vec::new();
    apply_map(target, patch, &mut path)
}

fn apply_map(target: &mut Value, patch: &Value, path: &mut Vec<String>) -> Result<(), String> {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return Ok(());
    };
    match patch.get("$patch").and_then(Value::as_str) {
        Some("replace") => {
            let mut p = patch.clone();
            p.remove("$patch");
            *target = Value::Object(p);
            return Ok(());
        }
        Some("delete") => {
            *target = Value::Null;
            return Ok(());
        }
        Some(other) => return Err(format!("unknown $patch directive {other:?} in a map")),
        None => {}
    }
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let mut orders: Vec<(String, Vec<Value>)> = Vec::new();
    let mut retain: Option<Vec<String>> = None;
    for (key, value) in patch {
        if let Some(field) = key.strip_prefix("$setElementOrder/") {
            orders.push((
                field.to_string(),
                value.as_array().cloned().unwrap_or_default(),
            ));
            continue;
        }
        if let Some(field) = key.strip_prefix("$deleteFromPrimitiveList/") {
            let gone = value.as_array().cloned().unwrap_or_default();
            if let Some(Value::Array(list)) = target.get_mut(field) {
                list.retain(|v| !gone.contains(v));
            }
            continue;
        }
        if key == "$retainKeys" {
            retain = Some(
                value
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect(),
            );
            continue;
        }
        if key.starts_with('$') {
            return Err(format!("unknown directive {key:?}"));
        }
        let obj = target.as_object_mut().expect("made an object above");
        if value.is_null() {
            obj.remove(key);
            continue;
        }
        path.push(key.clone());
        let slot = obj.entry(key.clone()).or_insert(Value::Null);
        let result = match value {
            Value::Object(_) => {
                if !slot.is_object() {
                    *slot = Value::Object(Map::new());
                }
                let r = apply_map(slot, value, path);
                // `$patch: delete` left the map null: the key goes.
                if r.is_ok() && slot.is_null() {
                    obj.remove(key);
                }
                r
            }
            Value::Array(items) => apply_list(slot, items, path),
            _ => {
                *slot = value.clone();
                Ok(())
            }
        };
        path.pop();
        result?;
    }
    let obj = target.as_object_mut().expect("made an object above");
    for (field, order) in orders {
        path.push(field.clone());
        let key = merge_key(&path.iter().map(String::as_str).collect::<Vec<_>>());
        path.pop();
        if let Some(Value::Array(list)) = obj.get_mut(&field) {
            reorder(list, &order, key);
        }
    }
    if let Some(keep) = retain {
        obj.retain(|k, _| keep.iter().any(|r| r == k));
    }
    Ok(())
}

fn apply_list(slot: &mut Value, items: &[Value], path: &mut Vec<String>) -> Result<(), String> {
    let names: Vec<&str> = path.iter().map(String::as_str).collect();
    if is_set_list(&names) {
        let mut list = slot.as_array().cloned().unwrap_or_default();
        for v in items {
            if !list.contains(v) {
                list.push(v.clone());
            }
        }
        *slot = Value::Array(list);
        return Ok(());
    }
    let Some(key) = merge_key(&names) else {
        *slot = Value::Array(items.to_vec());
        return Ok(());
    };
    if items
        .iter()
        .any(|i| i.get("$patch").and_then(Value::as_str) == Some("replace"))
    {
        *slot = Value::Array(
            items
                .iter()
                .filter(|i| i.get("$patch").is_none())
                .cloned()
                .collect(),
        );
        return Ok(());
    }
    let mut list = slot.as_array().cloned().unwrap_or_default();
    for item in items {
        let Some(id) = item.get(key) else {
            return Err(format!(
                "{}: an element of a list merged by {key:?} has no {key:?}",
                path.join(".")
            ));
        };
        let at = list.iter().position(|e| e.get(key) == Some(id));
        match item.get("$patch").and_then(Value::as_str) {
            Some("delete") => {
                if let Some(i) = at {
                    list.remove(i);
                }
            }
            Some(other) => {
                return Err(format!("unknown $patch directive {other:?} in a list"));
            }
            None => match at {
                Some(i) => apply_map(&mut list[i], item, path)?,
                None => {
                    let mut fresh = Value::Object(Map::new());
                    apply_map(&mut fresh, item, path)?;
                    list.push(fresh);
                }
            },
        }
    }
    *slot = Value::Array(list);
    Ok(())
}

/// Orders `list` as `order` gives it (elements matched by `key`, or by value for scalars);
/// elements `order` does not name keep their relative order after those it does.
fn reorder(list: &mut [Value], order: &[Value], key: Option<&str>) {
    let rank = |v: &Value| {
        order
            .iter()
            .position(|o| match key {
                Some(k) => o.get(k).is_some() && o.get(k) == v.get(k),
                None => o == v,
            })
            .unwrap_or(usize::MAX)
    };
    list.sort_by_key(rank);
}

/// What `kubectl apply` makes of `live` for a built-in kind: the three-way *strategic*
/// merge of the last-applied configuration, the desired one and the live object.
///
/// As [`three_way_merge`](super::merge::three_way_merge) for maps (fields in `desired` are
/// set, fields only in `last_applied` removed, the rest of `live` kept), and lists with a
/// [`merge_key`] are merged element by element: an element `desired` names is merged the
/// same way, one that only `last_applied` named is removed, and one set by someone else
/// (neither named it) is kept, after the desired ones. So a container added by another
/// writer survives an apply that edits the manifest's containers. Other lists are replaced.
#[must_use]
pub fn strategic_three_way_merge(
    last_applied: Option<&Value>,
    desired: &Value,
    live: &Value,
) -> Value {
    let mut path = Vec::new();
    merge3(last_applied, desired, Some(live), &mut path)
}

fn merge3(
    last: Option<&Value>,
    desired: &Value,
    live: Option<&Value>,
    path: &mut Vec<String>,
) -> Value {
    match desired {
        Value::Object(want) => {
            let mut out = match live {
                Some(Value::Object(l)) => l.clone(),
                _ => Map::new(),
            };
            let names: Vec<&str> = path.iter().map(String::as_str).collect();
            if retain_keys(&names) {
                out.retain(|k, _| want.contains_key(k));
            }
            if let Some(Value::Object(last)) = last {
                for key in last.keys() {
                    if !want.contains_key(key) {
                        out.remove(key);
                    }
                }
            }
            for (key, value) in want {
                if value.is_null() {
                    out.remove(key);
                    continue;
                }
                path.push(key.clone());
                let merged = merge3(
                    last.and_then(|l| l.get(key)),
                    value,
                    live.and_then(|l| l.get(key)),
                    path,
                );
                path.pop();
                out.insert(key.clone(), merged);
            }
            Value::Object(out)
        }
        Value::Array(want) => {
            let names: Vec<&str> = path.iter().map(String::as_str).collect();
            let live_list = live.and_then(Value::as_array);
            let last_list = last.and_then(Value::as_array);
            if is_set_list(&names) {
                let mut out: Vec<Value> = live_list
                    .into_iter()
                    .flatten()
                    .filter(|v| want.contains(v) || !last_list.is_some_and(|l| l.contains(v)))
                    .cloned()
                    .collect();
                for v in want {
                    if !out.contains(v) {
                        out.push(v.clone());
                    }
                }
                return Value::Array(out);
            }
            let Some(key) = merge_key(&names) else {
                return desired.clone();
            };
            let find = |list: Option<&Vec<Value>>, id: &Value| {
                list.into_iter()
                    .flatten()
                    .find(|e| e.get(key) == Some(id))
                    .cloned()
            };
            let mut out = Vec::new();
            for w in want {
                let Some(id) = w.get(key) else {
                    out.push(w.clone());
                    continue;
                };
                let l = find(live_list, id);
                let a = find(last_list, id);
                out.push(merge3(a.as_ref(), w, l.as_ref(), path));
            }
            for e in live_list.into_iter().flatten() {
                let Some(id) = e.get(key) else { continue };
                let named = want.iter().any(|w| w.get(key) == Some(id));
                let applied_before = last_list
                    .into_iter()
                    .flatten()
                    .any(|a| a.get(key) == Some(id));
                if !named && !applied_before {
                    out.push(e.clone());
                }
            }
            Value::Array(out)
        }
        other => other.clone(),
    }
}

/// Applies a JSON patch (RFC 6902: `add`, `remove`, `replace`, `move`, `copy`, `test`) to
/// `target`. All or nothing: on an error `target` is unchanged.
pub fn json_patch(target: &mut Value, patch: &Value) -> Result<(), String> {
    let ops = patch
        .as_array()
        .ok_or("a JSON patch is a list of operations")?;
    let mut doc = target.clone();
    for (i, op) in ops.iter().enumerate() {
        let field = |name: &str| -> Result<&str, String> {
            op.get(name)
                .and_then(Value::as_str)
                .ok_or_else(|| format!("operation {i}: {name:?} is required"))
        };
        let kind = field("op")?;
        let at = field("path")?;
        let value = || {
            op.get("value")
                .cloned()
                .ok_or_else(|| format!("operation {i}: \"value\" is required"))
        };
        let fail = |e: String| format!("operation {i} ({kind} {at}): {e}");
        match kind {
            "add" => add(&mut doc, at, value()?).map_err(fail)?,
            "remove" => {
                remove(&mut doc, at).map_err(fail)?;
            }
            "replace" => {
                remove(&mut doc, at).map_err(fail)?;
                add(&mut doc, at, value()?).map_err(fail)?;
            }
            "move" => {
                let from = field("from")?;
                let v = remove(&mut doc, from).map_err(fail)?;
                add(&mut doc, at, v).map_err(fail)?;
            }
            "copy" => {
                let from = field("from")?;
                let v = doc
                    .pointer(from)
                    .cloned()
                    .ok_or_else(|| fail(format!("{from} does not exist")))?;
                add(&mut doc, at, v).map_err(fail)?;
            }
            "test" => {
                if doc.pointer(at) != Some(&value()?) {
                    return Err(fail("the value differs".into()));
                }
            }
            other => return Err(format!("operation {i}: unknown op {other:?}")),
        }
    }
    *target = doc;
    Ok(())
}

fn split_pointer(p: &str) -> Result<(String, String), String> {
    if p.is_empty() {
        return Ok((String::new(), String::new()));
    }
    if !p.starts_with('/') {
        return Err(format!("{p:?} is not a JSON pointer"));
    }
    let i = p.rfind('/').expect("starts with /");
    let last = p[i + 1..].replace("~1", "/").replace("~0", "~");
    Ok((p[..i].to_string(), last))
}

fn add(doc: &mut Value, at: &str, value: Value) -> Result<(), String> {
    let (parent, last) = split_pointer(at)?;
    if at.is_empty() {
        *doc = value;
        return Ok(());
    }
    match doc.pointer_mut(&parent) {
        Some(Value::Object(m)) => {
            m.insert(last, value);
            Ok(())
        }
        Some(Value::Array(a)) => {
            let i = if last == "-" {
                a.len()
            } else {
                last.parse::<usize>()
                    .ok()
                    .filter(|i| *i <= a.len())
                    .ok_or_else(|| format!("index {last} is out of range"))?
            };
            a.insert(i, value);
            Ok(())
        }
        _ => Err(format!("{parent:?} does not exist")),
    }
}

fn remove(doc: &mut Value, at: &str) -> Result<Value, String> {
    let (parent, last) = split_pointer(at)?;
    match doc.pointer_mut(&parent) {
        Some(Value::Object(m)) => m
            .remove(&last)
            .ok_or_else(|| format!("{at} does not exist")),
        Some(Value::Array(a)) => match last.parse::<usize>() {
            Ok(i) if i < a.len() => Ok(a.remove(i)),
            _ => Err(format!("index {last} is out of range")),
        },
        _ => Err(format!("{parent:?} does not exist")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn smp(mut t: Value, p: Value) -> Value {
        strategic_merge_patch(&mut t, &p).unwrap();
        t
    }

    #[test]
    fn containers_merge_by_name_and_keep_what_the_patch_does_not_say() {
        let live = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "web", "image": "nginx:1", "env": [{"name": "A", "value": "1"}]},
            {"name": "sidecar", "image": "envoy"}]}}}});
        let patch = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "web", "image": "nginx:2", "env": [{"name": "B", "value": "2"}]}]}}}});
        let out = smp(live, patch);
        let c = &out["spec"]["template"]["spec"]["containers"];
        assert_eq!(c[0]["image"], "nginx:2");
        assert_eq!(
            c[0]["env"],
            json!([{"name": "A", "value": "1"}, {"name": "B", "value": "2"}])
        );
        assert_eq!(
            c[1]["name"], "sidecar",
            "an element the patch does not name stays"
        );
    }

    #[test]
    fn directives_delete_replace_order_and_retain() {
        let live = json!({"spec": {"containers": [{"name": "a"}, {"name": "b"}, {"name": "c"}],
            "tolerations": [{"key": "x"}], "strategy": {"type": "RollingUpdate",
            "rollingUpdate": {"maxSurge": 1}}}, "metadata": {"finalizers": ["f1"]}});
        let out = smp(
            live,
            json!({"spec": {
                "containers": [{"name": "b", "$patch": "delete"}, {"name": "d"}],
                "$setElementOrder/containers": [{"name": "d"}, {"name": "a"}, {"name": "c"}],
                "tolerations": [{"key": "y"}],
                "strategy": {"type": "Recreate", "$retainKeys": ["type"]}},
                "metadata": {"finalizers": ["f2"]}}),
        );
        let names: Vec<&str> = out["spec"]["containers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["d", "a", "c"]);
        assert_eq!(
            out["spec"]["tolerations"],
            json!([{"key": "y"}]),
            "no merge key: replaced"
        );
        assert_eq!(out["spec"]["strategy"], json!({"type": "Recreate"}));
        assert_eq!(out["metadata"]["finalizers"], json!(["f1", "f2"]));
        let out = smp(
            out,
            json!({"spec": {"containers": [{"$patch": "replace"}, {"name": "only"}]},
                   "metadata": {"$deleteFromPrimitiveList/finalizers": ["f1"]}}),
        );
        assert_eq!(out["spec"]["containers"], json!([{"name": "only"}]));
        assert_eq!(out["metadata"]["finalizers"], json!(["f2"]));
    }

    #[test]
    fn service_and_container_ports_have_their_own_keys() {
        let svc = smp(
            json!({"spec": {"ports": [{"port": 80, "name": "http"}, {"port": 443}]}}),
            json!({"spec": {"ports": [{"port": 80, "targetPort": 8080}]}}),
        );
        assert_eq!(svc["spec"]["ports"][0]["targetPort"], 8080);
        assert_eq!(svc["spec"]["ports"][1]["port"], 443);
        let pod = smp(
            json!({"spec": {"containers": [{"name": "a", "ports": [{"containerPort": 80}]}]}}),
            json!({"spec": {"containers": [{"name": "a", "ports": [{"containerPort": 81}]}]}}),
        );
        assert_eq!(
            pod["spec"]["containers"][0]["ports"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
    }

    #[test]
    fn json_patch_is_all_or_nothing() {
        let mut doc = json!({"spec": {"replicas": 1, "list": [1, 2]}});
        json_patch(
            &mut doc,
            &json!([{"op": "replace", "path": "/spec/replicas", "value": 3},
                    {"op": "add", "path": "/spec/list/-", "value": 3},
                    {"op": "test", "path": "/spec/replicas", "value": 3}]),
        )
        .unwrap();
        assert_eq!(doc, json!({"spec": {"replicas": 3, "list": [1, 2, 3]}}));
        let before = doc.clone();
        let err = json_patch(
            &mut doc,
            &json!([{"op": "remove", "path": "/spec/replicas"},
                    {"op": "remove", "path": "/spec/nothing"}]),
        )
        .unwrap_err();
        assert!(err.contains("operation 1"), "{err}");
        assert_eq!(doc, before);
    }

    #[test]
    fn a_strategic_apply_keeps_list_elements_others_added_and_drops_those_it_removed() {
        let last = json!({"spec": {"containers": [
            {"name": "web", "image": "nginx:1", "env": [{"name": "A", "value": "1"}]},
            {"name": "old", "image": "x"}]}});
        let live = json!({"spec": {"containers": [
            {"name": "web", "image": "nginx:1", "env": [{"name": "A", "value": "1"},
                {"name": "INJECTED", "value": "y"}], "resources": {"requests": {"cpu": "1"}}},
            {"name": "old", "image": "x"},
            {"name": "sidecar", "image": "envoy"}]}, "status": {"phase": "Running"}});
        let desired = json!({"spec": {"containers": [
            {"name": "web", "image": "nginx:2", "env": [{"name": "A", "value": "2"}]}]}});
        let out = strategic_three_way_merge(Some(&last), &desired, &live);
        assert_eq!(
            out["spec"]["containers"],
            json!([
                {"name": "web", "image": "nginx:2", "env": [{"name": "A", "value": "2"},
                    {"name": "INJECTED", "value": "y"}], "resources": {"requests": {"cpu": "1"}}},
                {"name": "sidecar", "image": "envoy"}
            ])
        );
        assert_eq!(out["status"]["phase"], "Running");
    }

    #[test]
    fn a_strategy_switched_by_apply_keeps_only_the_keys_it_gives() {
        let last = json!({"spec": {"strategy": {"type": "RollingUpdate"}}});
        let live = json!({"spec": {"strategy": {"type": "RollingUpdate",
            "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}}});
        let desired = json!({"spec": {"strategy": {"type": "Recreate"}}});
        let out = strategic_three_way_merge(Some(&last), &desired, &live);
        assert_eq!(out["spec"]["strategy"], json!({"type": "Recreate"}));
        let live = json!({"spec": {"volumes": [{"name": "v", "emptyDir": {}}]}});
        let desired = json!({"spec": {"volumes": [{"name": "v", "configMap": {"name": "c"}}]}});
        let out = strategic_three_way_merge(None, &desired, &live);
        assert_eq!(
            out["spec"]["volumes"],
            json!([{"name": "v", "configMap": {"name": "c"}}])
        );
    }
}
