//! Field ownership (`metadata.managedFields`) and server-side apply, as kube-apiserver keeps
//! them for its clients.
//!
//! Every write through the API server records who set which fields: a create, update or
//! patch (operation `Update`) gives its field manager the fields whose values it changed and
//! takes them from every other manager; a server-side apply (operation `Apply`) declares the
//! complete set of fields its manager wants, and
//! - is refused with a 409 conflict when it would change a field another manager set to a
//!   different value (unless `force=true`, which takes the field over);
//! - shares a field with the managers that set it to the same value;
//! - removes the fields it applied before and no longer names, unless another manager still
//!   owns them.
//!
//! Field sets are Kubernetes' `FieldsV1` trees: `f:<field>` for a map field, `k:<key JSON>`
//! for an item of a list merged by key (containers by name, env by name, ports, ...), `v:<JSON>`
//! for a member of a list kept as a set (finalizers), and `.` for the item itself. Lists the
//! strategic merge patch merges by key are merged by that key here too; every other list, and
//! every list of a custom kind, is atomic (owned and replaced whole).
//!
//! What steady does not do as kube-apiserver does, each documented in README: the writes of
//! in-process callers (controllers, `Engine::apply`, C and Python hosts) record no manager, so
//! an apply that contradicts a controller's write is not a conflict; and an object that no API
//! client has written yet has all its fields owned by `before-first-apply`, as in Kubernetes.

use crate::api::Time;
use crate::client::patch::{is_set_list, merge_key};
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;

/// The manager that owns every field of an object first applied to with no managed fields.
pub const BEFORE_FIRST_APPLY: &str = "before-first-apply";

/// The metadata fields the server sets, owned by nobody.
const SERVER_METADATA: &[&str] = &[
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
    "selfLink",
];

/// One step of a field path.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Seg {
    /// A field of a map: `f:<name>`.
    Field(String),
    /// The item of a keyed list whose key fields are this JSON object: `k:<json>`.
    Key(String),
    /// The member of a set list equal to this JSON value: `v:<json>`.
    Value(String),
}

type Path = Vec<Seg>;

/// A set of field paths: what one manager owns.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FieldSet(BTreeSet<Path>);

impl FieldSet {
    /// True when the set owns nothing.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The set as a `FieldsV1` tree.
    pub fn to_fields_v1(&self) -> Value {
        let mut root = Map::new();
        for path in &self.0 {
            let mut node = &mut root;
            for seg in path {
                let key = match seg {
                    Seg::Field(f) => format!("f:{f}"),
                    Seg::Key(k) => format!("k:{k}"),
                    Seg::Value(v) => format!("v:{v}"),
                };
                node = node
                    .entry(key)
                    .or_insert_with(|| json!({}))
                    .as_object_mut()
                    .expect("field set nodes are maps");
            }
        }
        // A member that is also the parent of members is marked with `.`.
        mark_members(&mut root, &self.0, &mut Vec::new());
        Value::Object(root)
    }

    /// Reads a `FieldsV1` tree; `None` when it is not one.
    pub fn from_fields_v1(v: &Value) -> Option<FieldSet> {
        let mut set = BTreeSet::new();
        read_tree(v.as_object()?, &mut Vec::new(), &mut set)?;
        Some(FieldSet(set))
    }

    /// The paths, written as Kubernetes prints them in conflicts (`.spec.replicas`,
    /// `.spec.containers[name="web"].image`).
    fn print(path: &[Seg]) -> String {
        let mut s = String::new();
        for seg in path {
            match seg {
                Seg::Field(f) => {
                    s.push('.');
                    s.push_str(f);
                }
                Seg::Key(k) => {
                    let key: Map<String, Value> = serde_json::from_str(k).unwrap_or_default();
                    let parts: Vec<String> = key.iter().map(|(k, v)| format!("{k}={v}")).collect();
                    s.push('[');
                    s.push_str(&parts.join(","));
                    s.push(']');
                }
                Seg::Value(v) => {
                    s.push_str("[=");
                    s.push_str(v);
                    s.push(']');
                }
            }
        }
        s
    }
}

/// Adds `.` to every member node that has children (the tree builder only knows a node has
/// children once all paths are in).
fn mark_members(node: &mut Map<String, Value>, set: &BTreeSet<Path>, at: &mut Path) {
    for (key, child) in node.iter_mut() {
        let Some(seg) = seg_of(key) else { continue };
        at.push(seg);
        if let Some(c) = child.as_object_mut() {
            if !c.is_empty() && set.contains(at) {
                c.insert(".".into(), json!({}));
            }
            mark_members(c, set, at);
        }
        at.pop();
    }
}

fn seg_of(key: &str) -> Option<Seg> {
    if let Some(f) = key.strip_prefix("f:") {
        Some(Seg::Field(f.to_string()))
    } else if let Some(k) = key.strip_prefix("k:") {
        Some(Seg::Key(k.to_string()))
    } else {
        key.strip_prefix("v:").map(|v| Seg::Value(v.to_string()))
    }
}

fn read_tree(node: &Map<String, Value>, at: &mut Path, out: &mut BTreeSet<Path>) -> Option<()> {
    for (key, child) in node {
        if key == "." {
            continue;
        }
        let seg = seg_of(key)?;
        let c = child.as_object()?;
        at.push(seg);
        if c.is_empty() || c.contains_key(".") {
            out.insert(at.clone());
        }
        read_tree(c, at, out)?;
        at.pop();
    }
    Some(())
}

/// How lists are merged: by the built-in kinds' merge keys, or (custom kinds) atomically.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Lists {
    /// The strategic merge patch's keys and sets of the built-in kinds.
    BuiltIn,
    /// Every list atomic.
    Atomic,
}

/// What part of an object a write covers: the main resource (everything but `status`) or
/// the status subresource (only `status`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// Everything but `status` and the server's metadata.
    Main,
    /// Only `status`.
    Status,
    /// `spec.replicas`, through the scale subresource: recorded as the main resource's
    /// fields, under subresource `scale`.
    Scale,
}

impl Part {
    fn subresource(self) -> Option<&'static str> {
        match self {
            Part::Main => None,
            Part::Status => Some("status"),
            Part::Scale => Some("scale"),
        }
    }
}

/// The list `items` at `schema` (field names from the root) as a keyed list: its key field,
/// when every item is a map that has it.
fn list_key(lists: Lists, schema: &[String], items: &[Value]) -> Option<&'static str> {
    if lists == Lists::Atomic {
        return None;
    }
    let path: Vec<&str> = schema.iter().map(String::as_str).collect();
    let key = merge_key(&path)?;
    items
        .iter()
        .all(|i| i.get(key).is_some_and(|k| !k.is_null()))
        .then_some(key)
}

fn is_set(lists: Lists, schema: &[String], items: &[Value]) -> bool {
    if lists == Lists::Atomic {
        return false;
    }
    let path: Vec<&str> = schema.iter().map(String::as_str).collect();
    is_set_list(&path) && items.iter().all(|i| !i.is_object() && !i.is_array())
}

fn key_of(item: &Value, key: &str) -> String {
    let mut m = Map::new();
    m.insert(
        key.to_string(),
        item.get(key).cloned().unwrap_or(Value::Null),
    );
    Value::Object(m).to_string()
}

/// The fields an object sets, for the part `part` of it.
pub fn fields_of(obj: &Value, part: Part, lists: Lists) -> FieldSet {
    FieldSet(leaves(obj, part, lists).into_keys().collect())
}

type Leaves<'v> = std::collections::BTreeMap<Path, &'v Value>;

/// The fields an object sets, each with its value (an item's whole value for a keyed-list
/// item or set member).
fn leaves(obj: &Value, part: Part, lists: Lists) -> Leaves<'_> {
    let mut out = Leaves::new();
    let Some(top) = obj.as_object() else {
        return out;
    };
    for (k, v) in top {
        let wanted = match part {
            Part::Main | Part::Scale => !matches!(k.as_str(), "apiVersion" | "kind" | "status"),
            Part::Status => k == "status",
        };
        if !wanted {
            continue;
        }
        let mut path = vec![Seg::Field(k.clone())];
        let mut schema = vec![k.clone()];
        if k == "metadata" {
            let Some(meta) = v.as_object() else { continue };
            for (mk, mv) in meta {
                if SERVER_METADATA.contains(&mk.as_str()) {
                    continue;
                }
                path.push(Seg::Field(mk.clone()));
                schema.push(mk.clone());
                collect(mv, &mut schema, &mut path, &mut out, lists);
                path.pop();
                schema.pop();
            }
        } else {
            collect(v, &mut schema, &mut path, &mut out, lists);
        }
    }
    out
}

fn collect<'v>(
    v: &'v Value,
    schema: &mut Vec<String>,
    path: &mut Path,
    out: &mut Leaves<'v>,
    lists: Lists,
) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, c) in m {
                path.push(Seg::Field(k.clone()));
                schema.push(k.clone());
                collect(c, schema, path, out, lists);
                schema.pop();
                path.pop();
            }
        }
        Value::Array(items) if !items.is_empty() => {
            if let Some(key) = list_key(lists, schema, items) {
                for item in items {
                    path.push(Seg::Key(key_of(item, key)));
                    out.insert(path.clone(), item);
                    collect(item, schema, path, out, lists);
                    path.pop();
                }
            } else if is_set(lists, schema, items) {
                for item in items {
                    path.push(Seg::Value(item.to_string()));
                    out.insert(path.clone(), item);
                    path.pop();
                }
            } else {
                out.insert(path.clone(), v);
            }
        }
        _ => {
            out.insert(path.clone(), v);
        }
    }
}

/// What an update changed in `part`: the paths whose values changed (as [`track_update`]
/// counts them) and the paths it removed. Equal to comparing the [`leaves`] of both objects
/// (the walk does exactly that below the first map member that differs), but a subtree
/// that is equal on both sides costs one comparison and no paths.
fn diff(old: &Value, new: &Value, part: Part, lists: Lists) -> (BTreeSet<Path>, Vec<Path>) {
    let mut d = Diff {
        changed: BTreeSet::new(),
        removed: Vec::new(),
        lists,
    };
    let empty = Map::new();
    let (o, n) = (
        old.as_object().unwrap_or(&empty),
        new.as_object().unwrap_or(&empty),
    );
    for k in union(o, n) {
        let wanted = match part {
            Part::Main | Part::Scale => !matches!(k, "apiVersion" | "kind" | "status"),
            Part::Status => k == "status",
        };
        if !wanted {
            continue;
        }
        let mut path = vec![Seg::Field(k.to_string())];
        let mut schema = vec![k.to_string()];
        if k == "metadata" {
            // As in `leaves`: metadata that is not a map sets nothing.
            let om = o.get(k).and_then(Value::as_object).unwrap_or(&empty);
            let nm = n.get(k).and_then(Value::as_object).unwrap_or(&empty);
            for mk in union(om, nm) {
                if SERVER_METADATA.contains(&mk) {
                    continue;
                }
                path.push(Seg::Field(mk.to_string()));
                schema.push(mk.to_string());
                d.node(om.get(mk), nm.get(mk), &mut schema, &mut path);
                path.pop();
                schema.pop();
            }
        } else {
            d.node(o.get(k), n.get(k), &mut schema, &mut path);
        }
    }
    (d.changed, d.removed)
}

/// The keys of two maps, each once.
fn union<'a>(a: &'a Map<String, Value>, b: &'a Map<String, Value>) -> Vec<&'a str> {
    let mut keys: Vec<&str> = a.keys().map(String::as_str).collect();
    keys.extend(b.keys().map(String::as_str).filter(|k| !a.contains_key(*k)));
    keys
}

struct Diff {
    changed: BTreeSet<Path>,
    removed: Vec<Path>,
    lists: Lists,
}

impl Diff {
    /// Compares the values at `path` (either may be absent).
    fn node(
        &mut self,
        old: Option<&Value>,
        new: Option<&Value>,
        schema: &mut Vec<String>,
        path: &mut Path,
    ) {
        if old == new {
            return;
        }
        if let (Some(Value::Object(o)), Some(Value::Object(n))) = (old, new) {
            if !o.is_empty() && !n.is_empty() {
                for k in union(o, n) {
                    path.push(Seg::Field(k.to_string()));
                    schema.push(k.to_string());
                    self.node(o.get(k), n.get(k), schema, path);
                    schema.pop();
                    path.pop();
                }
                return;
            }
        }
        // Anything else (a list, a scalar, a map on one side only): the leaves of both sides.
        let mut before = Leaves::new();
        let mut after = Leaves::new();
        if let Some(o) = old {
            collect(o, schema, path, &mut before, self.lists);
        }
        if let Some(n) = new {
            collect(n, schema, path, &mut after, self.lists);
        }
        for (p, v) in &after {
            // An item or set member changes hands only when it is new; a change inside an
            // item is a change of the fields below it.
            let member = matches!(p.last(), Some(Seg::Key(_) | Seg::Value(_)));
            let changed = match before.get(p) {
                None => true,
                Some(was) => !member && was != v,
            };
            if changed {
                self.changed.insert(p.clone());
            }
        }
        self.removed
            .extend(before.into_keys().filter(|p| !after.contains_key(p)));
    }
}

/// True when the `FieldsV1` tree `tree` holds `path` (`buf` is scratch space).
fn tree_holds(tree: &Value, path: &[Seg], buf: &mut String) -> bool {
    let mut node = tree;
    for seg in path {
        buf.clear();
        match seg {
            Seg::Field(f) => {
                buf.push_str("f:");
                buf.push_str(f);
            }
            Seg::Key(k) => {
                buf.push_str("k:");
                buf.push_str(k);
            }
            Seg::Value(v) => {
                buf.push_str("v:");
                buf.push_str(v);
            }
        }
        match node.get(buf.as_str()) {
            Some(n) => node = n,
            None => return false,
        }
    }
    node.as_object()
        .is_some_and(|m| m.is_empty() || m.contains_key("."))
}

/// True when `tree` is a `FieldsV1` tree [`FieldSet::from_fields_v1`] reads, owning at
/// least one field (what [`entries_of`] and [`set_entries`] keep unchanged).
fn is_plain_tree(tree: &Value) -> bool {
    fn walk(node: &Map<String, Value>) -> bool {
        node.iter()
            .all(|(k, c)| k == "." || (seg_of_is_valid(k) && c.as_object().is_some_and(walk)))
    }
    tree.as_object().is_some_and(|m| !m.is_empty() && walk(m))
}

fn seg_of_is_valid(key: &str) -> bool {
    key.starts_with("f:") || key.starts_with("k:") || key.starts_with("v:")
}

/// The value at `path` in `v`.
fn get<'a>(v: &'a Value, path: &[Seg]) -> Option<&'a Value> {
    let mut at = v;
    for seg in path {
        at = match seg {
            Seg::Field(f) => at.get(f)?,
            Seg::Key(k) => {
                let key: Map<String, Value> = serde_json::from_str(k).ok()?;
                at.as_array()?
                    .iter()
                    .find(|i| key.iter().all(|(kf, kv)| i.get(kf) == Some(kv)))?
            }
            Seg::Value(s) => {
                let member: Value = serde_json::from_str(s).ok()?;
                at.as_array()?.iter().find(|i| **i == member)?
            }
        };
    }
    Some(at)
}

/// Removes the value at `path` from `v`; nothing when it is not there.
fn remove(v: &mut Value, path: &[Seg]) {
    let Some((last, parent)) = path.split_last() else {
        return;
    };
    let mut at = v;
    for seg in parent {
        let next = match seg {
            Seg::Field(f) => at.get_mut(f),
            Seg::Key(k) => {
                let Ok(key) = serde_json::from_str::<Map<String, Value>>(k) else {
                    return;
                };
                at.as_array_mut().and_then(|a| {
                    a.iter_mut()
                        .find(|i| key.iter().all(|(kf, kv)| i.get(kf) == Some(kv)))
                })
            }
            Seg::Value(_) => None,
        };
        match next {
            Some(n) => at = n,
            None => return,
        }
    }
    match last {
        Seg::Field(f) => {
            if let Some(m) = at.as_object_mut() {
                m.remove(f);
            }
        }
        Seg::Key(k) => {
            if let (Ok(key), Some(a)) = (
                serde_json::from_str::<Map<String, Value>>(k),
                at.as_array_mut(),
            ) {
                a.retain(|i| !key.iter().all(|(kf, kv)| i.get(kf) == Some(kv)));
            }
        }
        Seg::Value(s) => {
            if let Some(a) = at.as_array_mut() {
                if let Ok(member) = serde_json::from_str::<Value>(s) {
                    a.retain(|i| *i != member);
                }
            }
        }
    }
}

/// True when `path` is a key field of a keyed-list item (`name` of a container): it is the
/// item's identity, removed with the item and never alone.
fn is_key_field(path: &[Seg]) -> bool {
    match path {
        [.., Seg::Key(k), Seg::Field(f)] => {
            serde_json::from_str::<Map<String, Value>>(k).is_ok_and(|key| key.contains_key(f))
        }
        _ => false,
    }
}

/// Merges `cfg` into `live`: maps field by field, keyed lists item by item (new items
/// appended), set lists as a union, anything else replaced.
fn merge(live: &mut Value, cfg: &Value, schema: &mut Vec<String>, lists: Lists) {
    let (Some(l), Some(c)) = (live.as_object_mut(), cfg.as_object()) else {
        *live = cfg.clone();
        return;
    };
    for (k, cv) in c {
        schema.push(k.clone());
        match (l.get_mut(k), cv) {
            (Some(lv @ Value::Object(_)), Value::Object(_)) => merge(lv, cv, schema, lists),
            (Some(Value::Array(la)), Value::Array(ca)) => {
                let both: Vec<Value> = la.iter().chain(ca).cloned().collect();
                if let Some(key) = list_key(lists, schema, &both) {
                    for ci in ca {
                        match la.iter_mut().find(|li| li.get(key) == ci.get(key)) {
                            Some(li) => merge(li, ci, schema, lists),
                            None => la.push(ci.clone()),
                        }
                    }
                } else if is_set(lists, schema, &both) {
                    for ci in ca {
                        if !la.contains(ci) {
                            la.push(ci.clone());
                        }
                    }
                } else {
                    *la = ca.clone();
                }
            }
            _ => {
                l.insert(k.clone(), cv.clone());
            }
        }
        schema.pop();
    }
}

/// One entry of `metadata.managedFields`.
#[derive(Clone, Debug)]
struct Entry {
    manager: String,
    operation: String,
    api_version: String,
    subresource: Option<String>,
    time: Option<Value>,
    fields: FieldSet,
}

impl Entry {
    fn is(&self, manager: &str, operation: &str, subresource: Option<&str>) -> bool {
        self.manager == manager
            && self.operation == operation
            && self.subresource.as_deref() == subresource
    }

    /// The entry as conflicts name it: `"kubectl" using apps/v1` for an update.
    fn describe(&self) -> String {
        let mut s = format!("{:?}", self.manager);
        if let Some(sub) = &self.subresource {
            s.push_str(&format!(" with subresource {sub:?}"));
        }
        if self.operation == "Update" {
            s.push_str(&format!(" using {}", self.api_version));
        }
        s
    }

    fn to_value(&self) -> Value {
        let mut m = Map::new();
        m.insert("manager".into(), json!(self.manager));
        m.insert("operation".into(), json!(self.operation));
        m.insert("apiVersion".into(), json!(self.api_version));
        if let Some(t) = &self.time {
            m.insert("time".into(), t.clone());
        }
        m.insert("fieldsType".into(), json!("FieldsV1"));
        m.insert("fieldsV1".into(), self.fields.to_fields_v1());
        if let Some(s) = &self.subresource {
            m.insert("subresource".into(), json!(s));
        }
        Value::Object(m)
    }
}

/// The managed fields of `obj`; entries that cannot be read are dropped, as kube-apiserver
/// resets managed fields it cannot decode.
fn entries_of(obj: &Value) -> Vec<Entry> {
    let Some(list) = obj
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
    else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|e| {
            Some(Entry {
                manager: e.get("manager")?.as_str()?.to_string(),
                operation: e.get("operation")?.as_str()?.to_string(),
                api_version: e
                    .get("apiVersion")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string(),
                subresource: e
                    .get("subresource")
                    .and_then(Value::as_str)
                    .map(str::to_string),
                time: e.get("time").cloned(),
                fields: FieldSet::from_fields_v1(e.get("fieldsV1")?)?,
            })
        })
        .collect()
}

fn set_entries(obj: &mut Value, entries: &[Entry]) {
    if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        let list: Vec<Value> = entries
            .iter()
            .filter(|e| !e.fields.is_empty())
            .map(Entry::to_value)
            .collect();
        if list.is_empty() {
            m.remove("managedFields");
        } else {
            m.insert("managedFields".into(), Value::Array(list));
        }
    }
}

/// Managed-field times are whole seconds, as Kubernetes writes them.
fn stamp(now: Time) -> Value {
    let t = Time::from_unix_micros(now.unix_micros().div_euclid(1_000_000) * 1_000_000);
    json!(t.to_string())
}

/// Who is writing, and through which version and part of the object.
#[derive(Clone, Copy)]
pub struct Writer<'a> {
    /// The field manager (`fieldManager`, else the client's User-Agent up to its `/`).
    pub manager: &'a str,
    /// The apiVersion the request used.
    pub api_version: &'a str,
    /// The part of the object the request writes.
    pub part: Part,
    /// How the kind's lists merge.
    pub lists: Lists,
    /// The time of the write.
    pub now: Time,
}

/// Records an update (create, update or patch) in `new`'s managed fields: `old` is the
/// object before it (`None` on create). The fields whose values changed become the
/// writer's and no other manager's; the fields the update removed are nobody's. A request
/// that sets `managedFields` itself to something other than what is stored replaces them
/// (an empty list clears them), as kube-apiserver allows.
pub fn track_update(old: Option<&Value>, new: &mut Value, w: Writer<'_>) {
    track(old, new, w, true)
}

/// [`track_update`]; `in_place` allows the [`restamp`] shortcut (tests compare both ways).
fn track(old: Option<&Value>, new: &mut Value, w: Writer<'_>, in_place: bool) {
    let stored = old.and_then(|o| o.pointer("/metadata/managedFields"));
    match new.pointer("/metadata/managedFields") {
        Some(Value::Array(given)) if given.is_empty() => {
            // An empty list resets them: nobody owns anything until the next write.
            if let Some(m) = new.get_mut("metadata").and_then(Value::as_object_mut) {
                m.remove("managedFields");
            }
            return;
        }
        Some(given) if Some(given) != stored => return,
        Some(_) => {}
        None => {
            if let (Some(s), Some(m)) = (
                stored,
                new.get_mut("metadata").and_then(Value::as_object_mut),
            ) {
                m.insert("managedFields".into(), s.clone());
            }
        }
    }
    let (changed, removed) = match old {
        Some(o) => diff(o, new, w.part, w.lists),
        None => (
            leaves(new, w.part, w.lists).into_keys().collect(),
            Vec::new(),
        ),
    };
    if old.is_some() && changed.is_empty() && removed.is_empty() {
        // This part is as it was (a no-op, or a write of another part): the stored managed
        // fields stand.
        return;
    }
    let sub = w.part.subresource();
    if in_place && old.is_some() && restamp(new, &changed, &removed, w) {
        return;
    }
    let mut entries = old.map(entries_of).unwrap_or_default();
    for e in &mut entries {
        for p in &removed {
            e.fields.0.remove(p);
        }
        if !e.is(w.manager, "Update", sub) {
            e.fields.0.retain(|p| !changed.contains(p));
        }
    }
    if !changed.is_empty() {
        let stamp = stamp(w.now);
        match entries.iter_mut().find(|e| e.is(w.manager, "Update", sub)) {
            Some(e) => {
                e.fields.0.extend(changed);
                e.api_version = w.api_version.to_string();
                e.time = Some(stamp);
            }
            None => entries.push(Entry {
                manager: w.manager.to_string(),
                operation: "Update".into(),
                api_version: w.api_version.to_string(),
                subresource: sub.map(str::to_string),
                time: Some(stamp),
                fields: FieldSet(changed),
            }),
        }
    }
    set_entries(new, &entries);
}

/// The common update, done in place on `new`'s managed fields (a copy of the stored
/// ones): the writer already owns every field it changed, no other manager owns any of
/// them, and it removed no owned field. Then only the writer's entry changes, its time and
/// apiVersion, and the other entries are neither read nor rendered again. False (nothing
/// touched) in any other case, and when an entry is one [`entries_of`] would drop or
/// [`set_entries`] would render differently.
fn restamp(new: &mut Value, changed: &BTreeSet<Path>, removed: &[Path], w: Writer<'_>) -> bool {
    let sub = w.part.subresource();
    if changed.is_empty() {
        // Only removals of fields nobody owns: the writer's entry is not touched.
        return false;
    }
    let Some(list) = new
        .get_mut("metadata")
        .and_then(|m| m.get_mut("managedFields"))
        .and_then(Value::as_array_mut)
    else {
        return false;
    };
    let mut buf = String::new();
    let mut mine = None;
    for (i, e) in list.iter().enumerate() {
        let (Some(manager), Some(operation), Some(tree)) = (
            e.get("manager").and_then(Value::as_str),
            e.get("operation").and_then(Value::as_str),
            e.get("fieldsV1"),
        ) else {
            return false;
        };
        let subresource = match e.get("subresource") {
            None => None,
            Some(Value::String(s)) => Some(s.as_str()),
            Some(_) => return false,
        };
        if !is_plain_tree(tree)
            || e.get("fieldsType").and_then(Value::as_str) != Some("FieldsV1")
            || removed.iter().any(|p| tree_holds(tree, p, &mut buf))
        {
            return false;
        }
        let writer = manager == w.manager && operation == "Update" && subresource == sub;
        if writer {
            if mine.is_some() || !changed.iter().all(|p| tree_holds(tree, p, &mut buf)) {
                return false;
            }
            mine = Some(i);
        } else if changed.iter().any(|p| tree_holds(tree, p, &mut buf)) {
            return false;
        }
    }
    let Some(e) = mine.and_then(|i| list[i].as_object_mut()) else {
        return false;
    };
    e.insert("apiVersion".into(), w.api_version.into());
    e.insert("time".into(), stamp(w.now));
    true
}

/// A field another manager set to a different value than an apply asks for.
#[derive(Clone, Debug, PartialEq)]
pub struct Conflict {
    /// The other manager, as Kubernetes prints it (`"kubectl" using apps/v1`).
    pub manager: String,
    /// The field (`.spec.replicas`).
    pub field: String,
}

/// The message of a 409 for `conflicts`, worded as kube-apiserver's.
pub fn conflict_message(conflicts: &[Conflict]) -> String {
    if let [c] = conflicts {
        return format!(
            "Apply failed with 1 conflict: conflict with {}: {}",
            c.manager, c.field
        );
    }
    let mut managers: Vec<&str> = conflicts.iter().map(|c| c.manager.as_str()).collect();
    managers.sort_unstable();
    managers.dedup();
    let mut lines = Vec::new();
    for m in managers {
        lines.push(format!("conflicts with {m}:"));
        for c in conflicts.iter().filter(|c| c.manager == m) {
            lines.push(format!("- {}", c.field));
        }
    }
    format!(
        "Apply failed with {} conflicts: {}",
        conflicts.len(),
        lines.join("\n")
    )
}

/// Server-side apply of `cfg` (the applier's full intent) over `live` (`None`: the object
/// does not exist yet and `cfg` creates it). Returns the object to write, its managed fields
/// updated, or the conflicts when `force` is false and another manager set a field `cfg`
/// names to another value.
pub fn apply(
    live: Option<&Value>,
    cfg: &Value,
    force: bool,
    w: Writer<'_>,
) -> Result<Value, Vec<Conflict>> {
    let sub = w.part.subresource();
    let applied = fields_of(cfg, w.part, w.lists);
    let Some(live) = live else {
        let mut out = cfg.clone();
        let entry = Entry {
            manager: w.manager.to_string(),
            operation: "Apply".into(),
            api_version: w.api_version.to_string(),
            subresource: sub.map(str::to_string),
            time: Some(stamp(w.now)),
            fields: applied,
        };
        set_entries(&mut out, &[entry]);
        return Ok(out);
    };
    let mut entries = entries_of(live);
    if entries.is_empty() {
        // Nobody's fields recorded yet: they are all the object's first writer's.
        entries.push(Entry {
            manager: BEFORE_FIRST_APPLY.into(),
            operation: "Update".into(),
            api_version: w.api_version.to_string(),
            subresource: None,
            time: Some(stamp(w.now)),
            fields: fields_of(live, Part::Main, w.lists),
        });
    }
    // Conflicts: another manager's field that this apply sets to another value. An item of
    // a keyed list or a set member only says the item exists, so it never conflicts.
    let mut conflicts = Vec::new();
    for e in entries.iter().filter(|e| !e.is(w.manager, "Apply", sub)) {
        for p in e.fields.0.intersection(&applied.0) {
            if matches!(p.last(), Some(Seg::Key(_) | Seg::Value(_))) {
                continue;
            }
            let theirs = get(live, p);
            if theirs.is_some() && theirs != get(cfg, p) {
                conflicts.push(Conflict {
                    manager: e.describe(),
                    field: FieldSet::print(p),
                });
            }
        }
    }
    if !conflicts.is_empty() {
        if !force {
            return Err(conflicts);
        }
        // Forced: the fields in conflict leave their other owners.
        for e in entries
            .iter_mut()
            .filter(|e| !e.is(w.manager, "Apply", sub))
        {
            let taken: Vec<Path> = e
                .fields
                .0
                .iter()
                .filter(|p| {
                    applied.0.contains(*p)
                        && !matches!(p.last(), Some(Seg::Key(_) | Seg::Value(_)))
                        && get(live, p).is_some()
                        && get(live, p) != get(cfg, p)
                })
                .cloned()
                .collect();
            for p in taken {
                e.fields.0.remove(&p);
            }
        }
    }
    let mut out = live.clone();
    let mut scoped = cfg.clone();
    if let Some(m) = scoped.as_object_mut() {
        // Only the part the apply writes is merged; the rest stays as stored.
        match w.part {
            Part::Main | Part::Scale => {
                m.remove("status");
            }
            Part::Status => m.retain(|k, _| k == "status"),
        }
        if let Some(meta) = m.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.remove("managedFields");
            meta.remove("resourceVersion");
        }
    }
    merge(&mut out, &scoped, &mut Vec::new(), w.lists);
    // What this manager applied before and no longer names goes, unless someone else has it.
    let before = entries
        .iter()
        .find(|e| e.is(w.manager, "Apply", sub))
        .map(|e| e.fields.clone())
        .unwrap_or_default();
    let others: BTreeSet<&Path> = entries
        .iter()
        .filter(|e| !e.is(w.manager, "Apply", sub))
        .flat_map(|e| e.fields.0.iter())
        .collect();
    // Children come after their parents in the set, so walking it backwards removes an
    // item's own fields before the item; an item keeps living while another manager owns a
    // field under it (it then holds only what the others own).
    for p in before.0.iter().rev() {
        let someone_else_below = others.iter().any(|o| o.len() > p.len() && o.starts_with(p));
        if !applied.0.contains(p) && !others.contains(p) && !someone_else_below && !is_key_field(p)
        {
            remove(&mut out, p);
        }
    }
    let stamp = stamp(w.now);
    match entries.iter_mut().find(|e| e.is(w.manager, "Apply", sub)) {
        Some(e) => {
            e.fields = applied;
            e.api_version = w.api_version.to_string();
            e.time = Some(stamp);
        }
        None => entries.push(Entry {
            manager: w.manager.to_string(),
            operation: "Apply".into(),
            api_version: w.api_version.to_string(),
            subresource: sub.map(str::to_string),
            time: Some(stamp),
            fields: applied,
        }),
    }
    set_entries(&mut out, &entries);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn writer(manager: &str) -> Writer<'_> {
        Writer {
            manager,
            api_version: "apps/v1",
            part: Part::Main,
            lists: Lists::BuiltIn,
            now: Time::from_unix_micros(1_700_000_000_500_000),
        }
    }

    fn deployment(replicas: i64, image: &str) -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "http", "image": image}]}}}
        })
    }

    fn owners(obj: &Value) -> Vec<(String, String)> {
        entries_of(obj)
            .into_iter()
            .map(|e| (e.manager, e.operation))
            .collect()
    }

    /// Small objects with maps, keyed lists (containers, ports), a set list (finalizers),
    /// atomic lists, nulls and empty maps: what `diff` and `restamp` must get right.
    fn objects() -> impl Strategy<Value = Value> {
        let scalar = prop_oneof![
            Just(Value::Null),
            Just(json!({})),
            (0i64..3).prop_map(|i| json!(i)),
            "[ab]{1,2}".prop_map(Value::from),
        ];
        let container = (
            "[ab]",
            proptest::option::of("[xy]"),
            proptest::option::of(0i64..3),
        )
            .prop_map(|(name, image, port)| {
                let mut c = json!({"name": name});
                if let Some(i) = image {
                    c["image"] = json!(i);
                }
                if let Some(p) = port {
                    c["ports"] = json!([{"containerPort": p, "protocol": "TCP"}]);
                }
                c
            });
        (
            proptest::collection::btree_map("[abc]", scalar.clone(), 0..3),
            proptest::collection::vec(container, 0..3),
            proptest::collection::vec("[fg]", 0..3),
            proptest::option::of(scalar),
            proptest::collection::vec(0i64..3, 0..3),
            proptest::option::of(0i64..3),
        )
            .prop_map(|(labels, containers, finalizers, extra, args, status)| {
                let mut v = json!({
                    "apiVersion": "apps/v1", "kind": "Deployment",
                    "metadata": {"name": "web", "resourceVersion": "7",
                                 "labels": labels, "finalizers": finalizers},
                    "spec": {"template": {"spec": {"containers": containers}}, "args": args},
                });
                if let Some(e) = extra {
                    v["spec"]["extra"] = e;
                }
                if let Some(s) = status {
                    v["status"] = json!({"replicas": s});
                }
                v
            })
    }

    proptest! {
        #[test]
        fn the_diff_walk_finds_what_comparing_all_leaves_finds(
            old in objects(), new in objects(), status in any::<bool>(),
        ) {
            let part = if status { Part::Status } else { Part::Main };
            let (changed, mut removed) = diff(&old, &new, part, Lists::BuiltIn);
            let before = leaves(&old, part, Lists::BuiltIn);
            let after = leaves(&new, part, Lists::BuiltIn);
            let expected: BTreeSet<Path> = after
                .iter()
                .filter(|(p, v)| {
                    let member = matches!(p.last(), Some(Seg::Key(_) | Seg::Value(_)));
                    before.get(*p).is_none_or(|was| !member && was != *v)
                })
                .map(|(p, _)| p.clone())
                .collect();
            let mut gone: Vec<Path> =
                before.keys().filter(|p| !after.contains_key(*p)).cloned().collect();
            removed.sort();
            gone.sort();
            prop_assert_eq!(changed, expected);
            prop_assert_eq!(removed, gone);
        }

        #[test]
        fn updating_managed_fields_in_place_equals_rebuilding_them(
            steps in proptest::collection::vec((objects(), 0usize..3, any::<bool>()), 1..6),
        ) {
            let managers = ["kubectl", "kubectl-edit", "helm"];
            let mut live: Option<Value> = None;
            for (step, (next, who, status)) in steps.into_iter().enumerate() {
                let part = if status && live.is_some() { Part::Status } else { Part::Main };
                let w = Writer {
                    part,
                    api_version: ["apps/v1", "apps/v1beta2"][step % 2],
                    now: Time::from_unix_micros(1_700_000_000_000_000 + step as i64 * 1_000_000),
                    ..writer(managers[who])
                };
                let (mut fast, mut slow) = (next.clone(), next);
                track(live.as_ref(), &mut fast, w, true);
                track(live.as_ref(), &mut slow, w, false);
                let owned = |v: &Value| -> Vec<String> {
                    entries_of(v).iter().map(|e| format!("{e:?}")).collect()
                };
                prop_assert_eq!(owned(&fast), owned(&slow));
                live = Some(slow);
            }
        }
    }

    #[test]
    fn fields_v1_round_trips_and_marks_items() {
        let set = fields_of(&deployment(3, "nginx"), Part::Main, Lists::BuiltIn);
        let tree = set.to_fields_v1();
        let item = &tree["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"http\"}"];
        assert_eq!(item["."], json!({}));
        assert_eq!(item["f:image"], json!({}));
        assert_eq!(tree["f:spec"]["f:replicas"], json!({}));
        assert!(
            tree["f:metadata"].get("f:name").is_none(),
            "the server's metadata is nobody's"
        );
        assert_eq!(FieldSet::from_fields_v1(&tree), Some(set));
    }

    #[test]
    fn an_apply_creates_and_owns_what_it_names() {
        let out = apply(None, &deployment(3, "nginx"), false, writer("kubectl")).unwrap();
        assert_eq!(owners(&out), vec![("kubectl".into(), "Apply".into())]);
        assert_eq!(
            out["metadata"]["managedFields"][0]["time"],
            json!("2023-11-14T22:13:20Z")
        );
    }

    #[test]
    fn a_changed_field_of_another_manager_conflicts_unless_forced() {
        let live = apply(None, &deployment(3, "nginx"), false, writer("kubectl")).unwrap();
        let mut scaled = live.clone();
        scaled["spec"]["replicas"] = json!(5);
        track_update(Some(&live), &mut scaled, writer("kubectl-scale"));
        let err = apply(
            Some(&scaled),
            &deployment(3, "nginx:2"),
            false,
            writer("kubectl"),
        )
        .unwrap_err();
        assert_eq!(
            conflict_message(&err),
            "Apply failed with 1 conflict: conflict with \"kubectl-scale\" using apps/v1: .spec.replicas"
        );
        // The same value is shared, not a conflict.
        let shared = apply(
            Some(&scaled),
            &deployment(5, "nginx:2"),
            false,
            writer("kubectl"),
        )
        .unwrap();
        assert_eq!(
            shared["spec"]["template"]["spec"]["containers"][0]["image"],
            json!("nginx:2")
        );
        // Forced, the field changes hands.
        let forced = apply(
            Some(&scaled),
            &deployment(3, "nginx"),
            true,
            writer("kubectl"),
        )
        .unwrap();
        assert_eq!(forced["spec"]["replicas"], json!(3));
        assert_eq!(owners(&forced), vec![("kubectl".into(), "Apply".into())]);
    }

    #[test]
    fn a_field_no_longer_applied_is_removed_unless_another_owns_it() {
        let mut cfg = deployment(3, "nginx");
        cfg["metadata"]["labels"]["tier"] = json!("front");
        cfg["spec"]["template"]["spec"]["containers"]
            .as_array_mut()
            .unwrap()
            .push(json!({"name": "side", "image": "busybox"}));
        let live = apply(None, &cfg, false, writer("kubectl")).unwrap();
        // Someone else sets resources on the sidecar.
        let mut edited = live.clone();
        edited["spec"]["template"]["spec"]["containers"][1]["resources"] =
            json!({"limits": {"cpu": "1"}});
        track_update(Some(&live), &mut edited, writer("kubectl-edit"));
        // The next apply drops the label and the sidecar.
        let out = apply(
            Some(&edited),
            &deployment(3, "nginx"),
            false,
            writer("kubectl"),
        )
        .unwrap();
        assert!(out["metadata"]["labels"].get("tier").is_none(), "{out}");
        let containers = out["spec"]["template"]["spec"]["containers"]
            .as_array()
            .unwrap();
        // The sidecar's image was only the applier's; its resources are the editor's, so
        // the item stays with what others own.
        assert_eq!(containers.len(), 2, "{out}");
        assert!(containers[1].get("image").is_none(), "{out}");
        assert_eq!(containers[1]["resources"]["limits"]["cpu"], json!("1"));
    }

    #[test]
    fn a_first_apply_over_unmanaged_fields_meets_before_first_apply() {
        let live = deployment(2, "nginx");
        let err = apply(
            Some(&live),
            &deployment(4, "nginx"),
            false,
            writer("kubectl"),
        )
        .unwrap_err();
        assert_eq!(err[0].manager, "\"before-first-apply\" using apps/v1");
        let same = apply(
            Some(&live),
            &deployment(2, "nginx"),
            false,
            writer("kubectl"),
        )
        .unwrap();
        assert_eq!(
            owners(&same),
            vec![
                (BEFORE_FIRST_APPLY.into(), "Update".into()),
                ("kubectl".into(), "Apply".into())
            ]
        );
    }

    #[test]
    fn updates_take_changed_fields_and_drop_removed_ones() {
        let created = {
            let mut v = deployment(1, "a");
            track_update(None, &mut v, writer("kubectl-create"));
            v
        };
        assert_eq!(
            owners(&created),
            vec![("kubectl-create".into(), "Update".into())]
        );
        let mut next = created.clone();
        next["spec"]["template"]["spec"]["containers"][0]["image"] = json!("b");
        next["metadata"]["labels"]
            .as_object_mut()
            .unwrap()
            .remove("app");
        track_update(Some(&created), &mut next, writer("kubectl-set"));
        let e = entries_of(&next);
        let image = vec![
            Seg::Field("spec".into()),
            Seg::Field("template".into()),
            Seg::Field("spec".into()),
            Seg::Field("containers".into()),
            Seg::Key("{\"name\":\"http\"}".into()),
            Seg::Field("image".into()),
        ];
        let label = vec![
            Seg::Field("metadata".into()),
            Seg::Field("labels".into()),
            Seg::Field("app".into()),
        ];
        assert!(!e[0].fields.0.contains(&image) && e[1].fields.0.contains(&image));
        assert!(e.iter().all(|e| !e.fields.0.contains(&label)));
        // A request that sets managedFields itself replaces them.
        let mut cleared = next.clone();
        cleared["metadata"]["managedFields"] = json!([]);
        cleared["spec"]["replicas"] = json!(9);
        track_update(Some(&next), &mut cleared, writer("x"));
        assert!(cleared["metadata"].get("managedFields").is_none());
    }

    #[test]
    fn set_lists_and_atomic_lists() {
        let mut a = json!({"metadata": {"name": "x", "finalizers": ["a", "b"]},
                           "spec": {"args": ["1", "2"]}});
        let set = fields_of(&a, Part::Main, Lists::BuiltIn);
        let tree = set.to_fields_v1();
        assert_eq!(tree["f:metadata"]["f:finalizers"]["v:\"a\""], json!({}));
        assert_eq!(tree["f:spec"]["f:args"], json!({}));
        merge(
            &mut a,
            &json!({"metadata": {"finalizers": ["c"]}, "spec": {"args": ["3"]}}),
            &mut Vec::new(),
            Lists::BuiltIn,
        );
        assert_eq!(a["metadata"]["finalizers"], json!(["a", "b", "c"]));
        assert_eq!(a["spec"]["args"], json!(["3"]));
    }
}
