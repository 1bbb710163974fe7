//! Protobuf request bodies, read into the JSON form the handlers take.
//!
//! client-go picks protobuf for the built-in kinds whenever discovery allows it, so the
//! objects of `kubectl create deployment|job|service|namespace|configmap|secret`, `kubectl
//! run` and `kubectl expose`, and the `DeleteOptions` and `Eviction` of `kubectl delete` and
//! `kubectl drain`, arrive as `application/vnd.kubernetes.protobuf`.
//!
//! The body is the 4 bytes `k8s\0` then a `runtime.Unknown` envelope: `typeMeta` (1:
//! `apiVersion` 1, `kind` 2), `raw` (2: the object's own message), `contentEncoding` (3) and
//! `contentType` (4), both empty. The object's message is read through the static tables of
//! [`schema`], one [`Schema`] per message with its field numbers, JSON names and how each is
//! written (from the `generated.proto` files of `k8s.io/api` and `k8s.io/apimachinery`).
//!
//! Nothing is dropped unread: a field number a table does not list, or a field marked
//! [`Kind::Unread`] that is set, refuses the body ([`Error::Unsupported`], 415) naming the
//! message and the field number; bytes that are not protobuf as Go writes it (truncated, bad
//! wire type, invalid UTF-8) are [`Error::Malformed`] (400). Go writes every field that is
//! not a pointer, set or not; such a field's zero value (empty string, 0, false, empty
//! message, zero timestamp) reads as absent, as `omitempty` leaves it out of JSON, while a
//! pointer field ([`Card::Ptr`]) is kept whatever its value (`replicas: 0`).

mod schema;

use serde_json::{json, Map, Value};
use std::fmt;

/// Why a protobuf body could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// Not protobuf as Kubernetes writes it: truncated, a wire type that does not match the
    /// field, a string that is not UTF-8. Answered with 400.
    Malformed(String),
    /// Protobuf steady does not read: a kind, or a field of a message, that is not in its
    /// tables. Answered with 415, naming JSON instead.
    Unsupported(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Malformed(m) => write!(f, "malformed protobuf: {m}"),
            Error::Unsupported(m) => write!(
                f,
                "{m}: send the object as application/json (kubectl apply -f)"
            ),
        }
    }
}

/// How one field's value is written.
#[derive(Clone, Copy)]
pub enum Kind {
    /// `string`.
    Str,
    /// `int32` or `int64` (a varint; negative values sign-extended to 64 bits, as Go writes).
    Int,
    /// `bool`.
    Bool,
    /// `bytes`, base64 in JSON.
    Bytes,
    /// `meta.v1.Time` or `MicroTime` (`seconds` 1, `nanos` 2), an RFC 3339 string in JSON.
    Time,
    /// `resource.Quantity` (`string` 1), its string in JSON.
    Quantity,
    /// `intstr.IntOrString` (`type` 1: 0 int, 1 string; `intVal` 2, `strVal` 3).
    IntOrString,
    /// A message, an object in JSON.
    Msg(&'static Schema),
    /// A message whose fields are the parent's in JSON (Go's embedded structs with
    /// `json:""`: a Volume's `VolumeSource`, a Probe's `ProbeHandler`).
    Inline(&'static Schema),
    /// `map<string, string>`: entries with `key` 1, `value` 2.
    MapStr,
    /// `map<string, bytes>`, values base64 in JSON.
    MapBytes,
    /// `map<string, Quantity>` (resource lists).
    MapQuantity,
    /// A field steady does not read from protobuf (a legacy cloud volume source, managed
    /// fields): the body is refused when it is set.
    Unread,
}

/// How many values a field holds, and whether a zero value means something.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Card {
    /// One value; Go writes it always, so its zero value reads as absent.
    One,
    /// One value Go writes only when set (a pointer field): kept whatever its value.
    Ptr,
    /// `repeated`: a JSON array, every element kept.
    Rep,
}

/// One field of a message.
pub struct Field {
    /// The field number.
    pub n: u32,
    /// The JSON name.
    pub name: &'static str,
    /// How its value is written.
    pub kind: Kind,
    /// One value, a pointer, or repeated.
    pub card: Card,
}

/// A message: its name (for errors) and its fields, by number.
pub struct Schema {
    /// The message's name in `generated.proto`.
    pub name: &'static str,
    /// Its fields.
    pub fields: &'static [Field],
}

/// A table row.
const fn f(n: u32, name: &'static str, kind: Kind, card: Card) -> Field {
    Field {
        n,
        name,
        kind,
        card,
    }
}

/// The kinds read from protobuf: apiVersion (`None`: any, as client-go writes
/// DeleteOptions under the group version of the resource) and kind.
static ROOTS: &[(Option<&str>, &str, &Schema)] = &[
    (Some("v1"), "Pod", &schema::POD),
    (Some("v1"), "Service", &schema::SERVICE),
    (Some("v1"), "Namespace", &schema::NAMESPACE),
    (Some("v1"), "ConfigMap", &schema::CONFIG_MAP),
    (Some("v1"), "Secret", &schema::SECRET),
    (
        Some("v1"),
        "PersistentVolumeClaim",
        &schema::PERSISTENT_VOLUME_CLAIM,
    ),
    (Some("apps/v1"), "Deployment", &schema::DEPLOYMENT),
    (Some("apps/v1"), "ReplicaSet", &schema::REPLICA_SET),
    (Some("apps/v1"), "StatefulSet", &schema::STATEFUL_SET),
    (Some("apps/v1"), "DaemonSet", &schema::DAEMON_SET),
    (Some("batch/v1"), "Job", &schema::JOB),
    (
        Some("autoscaling/v2"),
        "HorizontalPodAutoscaler",
        &schema::HORIZONTAL_POD_AUTOSCALER,
    ),
    (
        Some("policy/v1"),
        "PodDisruptionBudget",
        &schema::POD_DISRUPTION_BUDGET,
    ),
    (Some("policy/v1"), "Eviction", &schema::EVICTION),
    (
        Some("authorization.k8s.io/v1"),
        "SelfSubjectAccessReview",
        &schema::SELF_SUBJECT_ACCESS_REVIEW,
    ),
    (
        Some("authorization.k8s.io/v1"),
        "SelfSubjectRulesReview",
        &schema::SELF_SUBJECT_RULES_REVIEW,
    ),
    (None, "DeleteOptions", &schema::DELETE_OPTIONS),
];

/// Deeper nesting than any Kubernetes object has is refused (the tables have no cycles
/// today; this keeps a hostile body from exhausting the stack should one be added).
const MAX_DEPTH: usize = 32;

/// A field's value as written on the wire.
#[derive(Clone, Copy)]
enum Wire<'a> {
    Varint(u64),
    Len(&'a [u8]),
    Fixed64,
    Fixed32,
}

impl Wire<'_> {
    fn name(self) -> &'static str {
        match self {
            Wire::Varint(_) => "varint",
            Wire::Len(_) => "length-delimited",
            Wire::Fixed64 => "fixed64",
            Wire::Fixed32 => "fixed32",
        }
    }

    /// True when the value is not a zero value (what Go writes for an unset field).
    fn is_set(self) -> bool {
        match self {
            Wire::Varint(v) => v != 0,
            Wire::Len(b) => !b.is_empty(),
            Wire::Fixed64 | Wire::Fixed32 => true,
        }
    }
}

/// The fields of one message, in order.
struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn new(b: &'a [u8]) -> Self {
        Reader { b, at: 0 }
    }

    fn varint(&mut self) -> Result<u64, Error> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = *self
                .b
                .get(self.at)
                .ok_or_else(|| malformed("truncated varint"))?;
            self.at += 1;
            v |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(malformed("varint longer than 10 bytes"))
    }

    fn skip(&mut self, n: usize) -> Result<&'a [u8], Error> {
        let end = self
            .at
            .checked_add(n)
            .filter(|e| *e <= self.b.len())
            .ok_or_else(|| malformed("truncated field"))?;
        let s = &self.b[self.at..end];
        self.at = end;
        Ok(s)
    }

    /// The next field's number and value, `None` at the end.
    fn next(&mut self) -> Result<Option<(u32, Wire<'a>)>, Error> {
        if self.at >= self.b.len() {
            return Ok(None);
        }
        let key = self.varint()?;
        let n = u32::try_from(key >> 3)
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| malformed("bad field number"))?;
        let w = match key & 7 {
            0 => Wire::Varint(self.varint()?),
            1 => {
                self.skip(8)?;
                Wire::Fixed64
            }
            2 => {
                let len = usize::try_from(self.varint()?)
                    .map_err(|_| malformed("length out of range"))?;
                Wire::Len(self.skip(len)?)
            }
            5 => {
                self.skip(4)?;
                Wire::Fixed32
            }
            w => return Err(malformed(&format!("wire type {w} of field {n}"))),
        };
        Ok(Some((n, w)))
    }
}

fn malformed(m: &str) -> Error {
    Error::Malformed(m.to_string())
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

/// The JSON object of message `b` read as `schema`; `path` names it in errors.
fn message(
    schema: &Schema,
    b: &[u8],
    path: &str,
    depth: usize,
) -> Result<Map<String, Value>, Error> {
    let mut out = Map::new();
    read_into(&mut out, schema, b, path, depth)?;
    Ok(out)
}

fn read_into(
    out: &mut Map<String, Value>,
    schema: &Schema,
    b: &[u8],
    path: &str,
    depth: usize,
) -> Result<(), Error> {
    if depth > MAX_DEPTH {
        return Err(malformed(&format!("{path}: nested too deeply")));
    }
    let mut r = Reader::new(b);
    while let Some((n, w)) = r.next()? {
        let field = schema.fields.iter().find(|f| f.n == n).ok_or_else(|| {
            Error::Unsupported(format!(
                "{}: field {n} of {} is not one steady reads from protobuf",
                if path.is_empty() { schema.name } else { path },
                schema.name
            ))
        })?;
        let here = join(path, field.name);
        let wrong = || {
            malformed(&format!(
                "{here} ({} field {n}): unexpected {} value",
                schema.name,
                w.name()
            ))
        };
        match field.kind {
            Kind::Unread => {
                if w.is_set() {
                    return Err(Error::Unsupported(format!(
                        "{here} ({} field {n}) is not read from protobuf",
                        schema.name
                    )));
                }
            }
            Kind::Inline(inner) => {
                let Wire::Len(b) = w else { return Err(wrong()) };
                read_into(out, inner, b, path, depth + 1)?;
            }
            Kind::MapStr | Kind::MapBytes | Kind::MapQuantity => {
                let Wire::Len(b) = w else { return Err(wrong()) };
                let (k, v) = map_entry(field.kind, b, &here, depth)?;
                out.entry(field.name)
                    .or_insert_with(|| json!({}))
                    .as_object_mut()
                    .ok_or_else(wrong)?
                    .insert(k, v);
            }
            kind => match (field.card, w) {
                // A packed repeated number (Go writes them unpacked; proto2 allows both).
                (Card::Rep, Wire::Len(b)) if matches!(kind, Kind::Int | Kind::Bool) => {
                    let mut p = Reader::new(b);
                    while p.at < b.len() {
                        let v = scalar(kind, Wire::Varint(p.varint()?), true, &here, depth)?;
                        push(out, field.name, v, &wrong)?;
                    }
                }
                (Card::Rep, w) => {
                    let v = scalar(kind, w, true, &here, depth)?;
                    push(out, field.name, v, &wrong)?;
                }
                (card, w) => {
                    if let Some(v) = scalar(kind, w, card == Card::Ptr, &here, depth)? {
                        out.insert(field.name.to_string(), v);
                    }
                }
            },
        }
    }
    Ok(())
}

fn push(
    out: &mut Map<String, Value>,
    name: &str,
    v: Option<Value>,
    wrong: &dyn Fn() -> Error,
) -> Result<(), Error> {
    out.entry(name)
        .or_insert_with(|| json!([]))
        .as_array_mut()
        .ok_or_else(wrong)?
        .push(v.unwrap_or(Value::Null));
    Ok(())
}

/// One value; `None` for a zero value unless `keep`.
fn scalar(
    kind: Kind,
    w: Wire<'_>,
    keep: bool,
    here: &str,
    depth: usize,
) -> Result<Option<Value>, Error> {
    let wrong = || malformed(&format!("{here}: unexpected {} value", w.name()));
    let v = match (kind, w) {
        (Kind::Int, Wire::Varint(v)) => json!(v as i64),
        (Kind::Bool, Wire::Varint(v)) => json!(v != 0),
        (Kind::Str, Wire::Len(b)) => json!(utf8(b, here)?),
        (Kind::Bytes, Wire::Len(b)) => json!(crate::api::base64::encode(b)),
        (Kind::Msg(s), Wire::Len(b)) => Value::Object(message(s, b, here, depth + 1)?),
        (Kind::Time, Wire::Len(b)) => match time(b, here)? {
            Some(t) => json!(t),
            None if keep => json!(crate::api::Time::UNIX_EPOCH.to_string()),
            None => return Ok(None),
        },
        (Kind::Quantity, Wire::Len(b)) => json!(quantity(b, here)?),
        (Kind::IntOrString, Wire::Len(b)) => int_or_string(b, here)?,
        _ => return Err(wrong()),
    };
    let zero = match &v {
        Value::Number(n) => n.as_i64() == Some(0),
        Value::Bool(b) => !b,
        Value::String(s) => s.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    };
    Ok((keep || !zero).then_some(v))
}

fn utf8<'b>(b: &'b [u8], here: &str) -> Result<&'b str, Error> {
    std::str::from_utf8(b).map_err(|_| malformed(&format!("{here}: not UTF-8")))
}

/// A `meta.v1.Time` as RFC 3339; `None` for the zero time Go writes when unset.
fn time(b: &[u8], here: &str) -> Result<Option<String>, Error> {
    let (mut seconds, mut nanos) = (0i64, 0i64);
    let mut r = Reader::new(b);
    while let Some((n, w)) = r.next()? {
        match (n, w) {
            (1, Wire::Varint(v)) => seconds = v as i64,
            (2, Wire::Varint(v)) => nanos = i64::from(v as i32),
            _ => {
                return Err(Error::Unsupported(format!(
                    "{here}: field {n} of Time is not one steady reads from protobuf"
                )))
            }
        }
    }
    if seconds == 0 && nanos == 0 {
        return Ok(None);
    }
    let micros = seconds
        .saturating_mul(1_000_000)
        .saturating_add(nanos / 1_000);
    Ok(Some(crate::api::Time::from_unix_micros(micros).to_string()))
}

fn quantity(b: &[u8], here: &str) -> Result<String, Error> {
    let mut s = String::new();
    let mut r = Reader::new(b);
    while let Some((n, w)) = r.next()? {
        match (n, w) {
            (1, Wire::Len(v)) => s = utf8(v, here)?.to_string(),
            _ => {
                return Err(Error::Unsupported(format!(
                    "{here}: field {n} of Quantity is not one steady reads from protobuf"
                )))
            }
        }
    }
    Ok(s)
}

fn int_or_string(b: &[u8], here: &str) -> Result<Value, Error> {
    let (mut ty, mut int, mut text) = (0u64, 0i64, String::new());
    let mut r = Reader::new(b);
    while let Some((n, w)) = r.next()? {
        match (n, w) {
            (1, Wire::Varint(v)) => ty = v,
            (2, Wire::Varint(v)) => int = i64::from(v as i32),
            (3, Wire::Len(v)) => text = utf8(v, here)?.to_string(),
            _ => {
                return Err(Error::Unsupported(format!(
                    "{here}: field {n} of IntOrString is not one steady reads from protobuf"
                )))
            }
        }
    }
    match ty {
        0 => Ok(json!(int)),
        1 => Ok(json!(text)),
        t => Err(malformed(&format!("{here}: IntOrString type {t}"))),
    }
}

/// A map entry: `key` 1 (a string), `value` 2 as the map's kind says.
fn map_entry(kind: Kind, b: &[u8], here: &str, depth: usize) -> Result<(String, Value), Error> {
    let value_kind = match kind {
        Kind::MapBytes => Kind::Bytes,
        Kind::MapQuantity => Kind::Quantity,
        _ => Kind::Str,
    };
    let mut key = String::new();
    let mut value = None;
    let mut r = Reader::new(b);
    while let Some((n, w)) = r.next()? {
        match (n, w) {
            (1, Wire::Len(k)) => key = utf8(k, here)?.to_string(),
            (2, w) => value = scalar(value_kind, w, true, here, depth)?,
            _ => {
                return Err(Error::Unsupported(format!(
                    "{here}: field {n} of a map entry is not one steady reads from protobuf"
                )))
            }
        }
    }
    Ok((key, value.unwrap_or_else(|| json!(""))))
}

/// The JSON form of a protobuf body (`k8s\0` and a `runtime.Unknown`); `Err` says what
/// could not be read.
pub fn decode(body: &[u8]) -> Result<Value, Error> {
    let unknown = body
        .strip_prefix(b"k8s\0")
        .ok_or_else(|| malformed("a protobuf body starts with the k8s envelope"))?;
    let (mut api_version, mut kind) = (String::new(), String::new());
    let mut raw: &[u8] = &[];
    let mut r = Reader::new(unknown);
    while let Some((n, w)) = r.next()? {
        match (n, w) {
            (1, Wire::Len(tm)) => {
                let mut t = Reader::new(tm);
                while let Some((m, w)) = t.next()? {
                    match (m, w) {
                        (1, Wire::Len(v)) => api_version = utf8(v, "apiVersion")?.to_string(),
                        (2, Wire::Len(v)) => kind = utf8(v, "kind")?.to_string(),
                        _ => {
                            return Err(Error::Unsupported(format!(
                                "field {m} of the envelope's TypeMeta"
                            )))
                        }
                    }
                }
            }
            (2, Wire::Len(r)) => raw = r,
            (3 | 4, w) if !w.is_set() => {}
            (3, _) => return Err(Error::Unsupported("an encoded protobuf body".into())),
            (4, Wire::Len(ct)) if ct == b"application/vnd.kubernetes.protobuf" => {}
            _ => {
                return Err(Error::Unsupported(format!(
                    "field {n} of the protobuf envelope (runtime.Unknown)"
                )))
            }
        }
    }
    let schema = ROOTS
        .iter()
        .find(|(v, k, _)| *k == kind && v.is_none_or(|v| v == api_version))
        .map(|(_, _, s)| *s)
        .ok_or_else(|| {
            Error::Unsupported(format!(
                "{api_version} {kind} is not read from protobuf by steady"
            ))
        })?;
    let mut o = Map::new();
    o.insert("apiVersion".into(), json!(api_version));
    o.insert("kind".into(), json!(kind));
    read_into(&mut o, schema, raw, "", 0)?;
    Ok(Value::Object(o))
}

/// Whether `path` (`spec.template.spec.containers[0].imagePullPolicy`, list indices and map
/// keys in brackets) names a field Kubernetes defines on objects of `kind`, by the same
/// tables: the fields steady keeps without modelling them (`dnsPolicy`,
/// `imagePullPolicy`, ...) are Kubernetes', a misspelling is not. `None` when the tables do
/// not cover `kind`. A CronJob's job template is looked up as a Job.
pub(crate) fn kubernetes_field(kind: &str, path: &str) -> Option<bool> {
    let (root, path) = if kind == "CronJob" {
        (&schema::JOB, path.strip_prefix("spec.jobTemplate.")?)
    } else {
        let (_, _, root) = ROOTS.iter().find(|(_, k, _)| *k == kind)?;
        (*root, path)
    };
    Some(defines(root, &field_names(path)))
}

/// The field names of a path, without its `[...]` parts (list indices, quoted map keys,
/// which may hold dots).
fn field_names(path: &str) -> Vec<&str> {
    let mut names = Vec::new();
    let (mut start, mut depth, mut quoted) = (0, 0usize, false);
    for (i, c) in path.char_indices() {
        match c {
            '"' if depth > 0 => quoted = !quoted,
            '[' if !quoted => {
                if depth == 0 && start < i {
                    names.push(&path[start..i]);
                }
                depth += 1;
            }
            ']' if !quoted && depth > 0 => {
                depth -= 1;
                start = i + 1;
            }
            '.' if depth == 0 => {
                if start < i {
                    names.push(&path[start..i]);
                }
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth == 0 && start < path.len() {
        names.push(&path[start..]);
    }
    names
}

/// Whether `schema` has the field `names[0]`, and so on down.
fn defines(schema: &'static Schema, names: &[&str]) -> bool {
    let Some((first, rest)) = names.split_first() else {
        return true;
    };
    let Some(field) = field_named(schema, first) else {
        return false;
    };
    match field.kind {
        Kind::Msg(s) => defines(s, rest),
        // What lies below a map is its keys; below an unread field, Kubernetes' own.
        Kind::MapStr | Kind::MapBytes | Kind::MapQuantity | Kind::Unread => true,
        _ => rest.is_empty(),
    }
}

/// The field of `schema` whose JSON name is `name`, looking into inlined messages.
fn field_named(schema: &'static Schema, name: &str) -> Option<&'static Field> {
    schema.fields.iter().find_map(|f| match f.kind {
        Kind::Inline(inner) => field_named(inner, name),
        _ => (f.name == name).then_some(f),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn varint(mut v: u64) -> Vec<u8> {
        let mut out = Vec::new();
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(b);
                return out;
            }
            out.push(b | 0x80);
        }
    }

    /// A length-delimited field (string, bytes, message, map entry).
    fn field(n: u64, payload: &[u8]) -> Vec<u8> {
        [
            varint(n << 3 | 2),
            varint(payload.len() as u64),
            payload.to_vec(),
        ]
        .concat()
    }

    fn int(n: u64, v: i64) -> Vec<u8> {
        [varint(n << 3), varint(v as u64)].concat()
    }

    fn entry(k: &str, v: &str) -> Vec<u8> {
        [field(1, k.as_bytes()), field(2, v.as_bytes())].concat()
    }

    fn envelope(api_version: &str, kind: &str, raw: &[u8]) -> Vec<u8> {
        let type_meta = [field(1, api_version.as_bytes()), field(2, kind.as_bytes())].concat();
        let mut b = b"k8s\0".to_vec();
        b.extend(field(1, &type_meta));
        b.extend(field(2, raw));
        // Go writes the empty contentEncoding and contentType too.
        b.extend(field(3, b""));
        b.extend(field(4, b""));
        b
    }

    /// ObjectMeta as Go writes it for a new object: unset strings, a zero generation and
    /// creationTimestamp included.
    fn meta(name: &str, labels: &[(&str, &str)]) -> Vec<u8> {
        let mut m = [
            field(1, name.as_bytes()),
            field(2, b""),
            field(3, b""),
            field(4, b""),
            field(5, b""),
            field(6, b""),
            int(7, 0),
            field(8, b""),
        ]
        .concat();
        for (k, v) in labels {
            m.extend(field(11, &entry(k, v)));
        }
        m
    }

    #[test]
    fn delete_options_and_evictions_read_as_json() {
        let pre = field(1, b"u-1");
        let opts = [int(1, 30), field(2, &pre), field(4, b"Foreground")].concat();
        let v = decode(&envelope("v1", "DeleteOptions", &opts)).unwrap();
        assert_eq!(
            v,
            json!({"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 30,
                   "preconditions": {"uid": "u-1"}, "propagationPolicy": "Foreground"})
        );
        // A pointer field keeps its zero: gracePeriodSeconds 0 means "now".
        let ev = [field(1, &meta("web-0", &[])), field(2, &int(1, 0))].concat();
        let v = decode(&envelope("policy/v1", "Eviction", &ev)).unwrap();
        assert_eq!(v["metadata"], json!({"name": "web-0"}));
        assert_eq!(v["deleteOptions"]["gracePeriodSeconds"], 0);
    }

    #[test]
    fn a_deployment_with_nested_messages_maps_and_lists_reads_as_json() {
        let container = [
            field(1, b"web"),
            field(2, b"nginx"),
            field(3, b"sh"),
            field(3, b"-c"),
            field(4, b"exec nginx"),
            field(6, &[int(3, 8080), field(4, b"TCP")].concat()),
            field(7, &[field(1, b"A"), field(2, b"1")].concat()),
            field(
                8,
                &[
                    field(
                        1,
                        &[field(1, b"cpu"), field(2, &field(1, b"500m"))].concat(),
                    ),
                    field(
                        2,
                        &[field(1, b"memory"), field(2, &field(1, b"64Mi"))].concat(),
                    ),
                ]
                .concat(),
            ),
            field(13, b"/dev/termination-log"),
            field(14, b"IfNotPresent"),
        ]
        .concat();
        let pod_spec = [
            field(2, &container),
            field(3, b"Always"),
            int(4, 30),
            field(6, b"ClusterFirst"),
            field(14, b""),
        ]
        .concat();
        let template = [field(1, &meta("", &[("app", "web")])), field(2, &pod_spec)].concat();
        let selector = field(1, &entry("app", "web"));
        let rolling = [
            field(1, &[int(1, 0), int(2, 1), field(3, b"")].concat()),
            field(2, &[int(1, 1), int(2, 0), field(3, b"25%")].concat()),
        ]
        .concat();
        let spec = [
            int(1, 0),
            field(2, &selector),
            field(3, &template),
            field(
                4,
                &[field(1, b"RollingUpdate"), field(2, &rolling)].concat(),
            ),
            int(5, 0),
            int(7, 0),
        ]
        .concat();
        let status = [int(1, 0), int(2, 0)].concat();
        let d = [
            field(1, &meta("web", &[("app", "web"), ("tier", "front")])),
            field(2, &spec),
            field(3, &status),
        ]
        .concat();
        let v = decode(&envelope("apps/v1", "Deployment", &d)).unwrap();
        assert_eq!(
            v,
            json!({
                "apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "web", "labels": {"app": "web", "tier": "front"}},
                "spec": {
                    "replicas": 0,
                    "selector": {"matchLabels": {"app": "web"}},
                    "strategy": {"type": "RollingUpdate",
                                 "rollingUpdate": {"maxUnavailable": 1, "maxSurge": "25%"}},
                    "template": {
                        "metadata": {"labels": {"app": "web"}},
                        "spec": {
                            "containers": [{
                                "name": "web", "image": "nginx",
                                "command": ["sh", "-c"], "args": ["exec nginx"],
                                "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                                "env": [{"name": "A", "value": "1"}],
                                "resources": {"limits": {"cpu": "500m"},
                                              "requests": {"memory": "64Mi"}},
                                "terminationMessagePath": "/dev/termination-log",
                                "imagePullPolicy": "IfNotPresent"
                            }],
                            "restartPolicy": "Always",
                            "terminationGracePeriodSeconds": 30,
                            "dnsPolicy": "ClusterFirst",
                            // A pointer: present, so kept even empty.
                            "securityContext": {}
                        }
                    }
                }
            })
        );
    }

    #[test]
    fn embedded_messages_read_into_their_parent_object() {
        // Go's embedded structs (`json:""`): a Volume's VolumeSource, a ConfigMap source's
        // and a key selector's LocalObjectReference, a Probe's ProbeHandler.
        let volume = [
            field(1, b"cfg"),
            field(
                2,
                &field(
                    19,
                    &[field(1, &field(1, b"settings")), int(3, 0o444)].concat(),
                ),
            ),
        ]
        .concat();
        let env = [
            field(1, b"PASSWORD"),
            field(2, b""),
            field(
                3,
                &field(
                    4,
                    &[field(1, &field(1, b"creds")), field(2, b"pw")].concat(),
                ),
            ),
        ]
        .concat();
        let probe = [
            field(
                1,
                &field(
                    2,
                    &[
                        field(1, b"/healthz"),
                        field(2, &[int(1, 1), field(3, b"http")].concat()),
                    ]
                    .concat(),
                ),
            ),
            int(2, 5),
        ]
        .concat();
        let container = [
            field(1, b"app"),
            field(7, &env),
            field(9, &[field(1, b"cfg"), field(3, b"/etc/app")].concat()),
            field(10, &probe),
        ]
        .concat();
        let pod = [
            field(1, &meta("p", &[])),
            field(2, &[field(1, &volume), field(2, &container)].concat()),
        ]
        .concat();
        let v = decode(&envelope("v1", "Pod", &pod)).unwrap();
        assert_eq!(
            v["spec"],
            json!({
                "volumes": [{"name": "cfg",
                             "configMap": {"name": "settings", "defaultMode": 0o444}}],
                "containers": [{
                    "name": "app",
                    "env": [{"name": "PASSWORD",
                             "valueFrom": {"secretKeyRef": {"name": "creds", "key": "pw"}}}],
                    "volumeMounts": [{"name": "cfg", "mountPath": "/etc/app"}],
                    "livenessProbe": {"httpGet": {"path": "/healthz", "port": "http"},
                                      "initialDelaySeconds": 5}
                }]
            })
        );
    }

    #[test]
    fn autoscalers_read_their_metric_targets() {
        let target = [field(1, b"Utilization"), int(4, 80)].concat();
        let metric = [
            field(1, b"Resource"),
            field(4, &[field(1, b"cpu"), field(2, &target)].concat()),
        ]
        .concat();
        let spec = [
            field(
                1,
                &[
                    field(1, b"Deployment"),
                    field(2, b"web"),
                    field(3, b"apps/v1"),
                ]
                .concat(),
            ),
            int(2, 1),
            int(3, 4),
            field(4, &metric),
        ]
        .concat();
        let hpa = [field(1, &meta("web", &[])), field(2, &spec)].concat();
        let v = decode(&envelope("autoscaling/v2", "HorizontalPodAutoscaler", &hpa)).unwrap();
        assert_eq!(
            v["spec"],
            json!({"scaleTargetRef": {"kind": "Deployment", "name": "web", "apiVersion": "apps/v1"},
                   "minReplicas": 1, "maxReplicas": 4,
                   "metrics": [{"type": "Resource", "resource": {"name": "cpu",
                       "target": {"type": "Utilization", "averageUtilization": 80}}}]})
        );
    }

    #[test]
    fn disruption_budgets_read_int_or_percent_and_their_selector() {
        // kubectl create pdb: minAvailable "100%" (IntOrString type 1, strVal 3).
        let min = [int(1, 1), field(3, b"100%")].concat();
        let selector = field(1, &[field(1, b"app"), field(2, b"web")].concat());
        let spec = [
            field(1, &min),
            field(2, &selector),
            field(4, b"AlwaysAllow"),
        ]
        .concat();
        let pdb = [field(1, &meta("web", &[])), field(2, &spec)].concat();
        let v = decode(&envelope("policy/v1", "PodDisruptionBudget", &pdb)).unwrap();
        assert_eq!(
            v["spec"],
            json!({"minAvailable": "100%", "selector": {"matchLabels": {"app": "web"}},
                   "unhealthyPodEvictionPolicy": "AlwaysAllow"})
        );
    }

    #[test]
    fn repeated_numbers_read_packed_or_not() {
        static T: Schema = Schema {
            name: "T",
            fields: &[
                f(1, "n", Kind::Int, Card::Rep),
                f(2, "b", Kind::Bool, Card::Rep),
            ],
        };
        let b = [
            int(1, 1),
            field(1, &[varint(2), varint(300), varint(-1i64 as u64)].concat()),
            int(1, 0),
            field(2, &[1, 0]),
        ]
        .concat();
        let v = message(&T, &b, "", 0).unwrap();
        assert_eq!(
            Value::Object(v),
            json!({"n": [1, 2, 300, -1, 0], "b": [true, false]})
        );
        // A packed run cut inside a varint.
        assert!(message(&T, &field(1, &[0x80]), "", 0).is_err());
    }

    #[test]
    fn services_read_their_int_or_string_target_ports() {
        let port = |p: i64, target: &[u8]| {
            field(
                1,
                &[field(2, b"TCP"), int(3, p), field(4, target), int(5, 0)].concat(),
            )
        };
        let spec = [
            port(80, &[int(1, 0), int(2, 8080), field(3, b"")].concat()),
            port(81, &[int(1, 1), int(2, 0), field(3, b"http")].concat()),
            port(82, &[int(1, 0), int(2, 0), field(3, b"")].concat()),
            field(2, &entry("app", "web")),
            field(4, b"ClusterIP"),
        ]
        .concat();
        let svc = [field(1, &meta("web", &[])), field(2, &spec)].concat();
        let v = decode(&envelope("v1", "Service", &svc)).unwrap();
        assert_eq!(
            v["spec"],
            json!({"ports": [{"protocol": "TCP", "port": 80, "targetPort": 8080},
                             {"protocol": "TCP", "port": 81, "targetPort": "http"},
                             {"protocol": "TCP", "port": 82}],
                   "selector": {"app": "web"}, "type": "ClusterIP"})
        );
    }

    #[test]
    fn timestamps_read_as_rfc3339_and_secrets_as_base64() {
        let m = [
            field(1, b"creds"),
            field(8, &[int(1, 1_700_000_000), int(2, 0)].concat()),
            field(
                13,
                &[field(1, b"Job"), field(3, b"j"), field(4, b"u"), int(6, 1)].concat(),
            ),
        ]
        .concat();
        let s = [
            field(1, &m),
            field(2, &[field(1, b"password"), field(2, b"hunter2")].concat()),
            field(3, b"Opaque"),
        ]
        .concat();
        let v = decode(&envelope("v1", "Secret", &s)).unwrap();
        assert_eq!(v["metadata"]["creationTimestamp"], "2023-11-14T22:13:20Z");
        assert_eq!(
            v["metadata"]["ownerReferences"],
            json!([{"kind": "Job", "name": "j", "uid": "u", "controller": true}])
        );
        assert_eq!(v["data"]["password"], "aHVudGVyMg==");
        assert_eq!(v["type"], "Opaque");
    }

    #[test]
    fn fields_not_in_the_tables_are_refused_naming_the_message_and_number() {
        let container = [field(1, b"web"), field(99, b"x")].concat();
        let pod = [field(1, &meta("p", &[])), field(2, &field(2, &container))].concat();
        let err = decode(&envelope("v1", "Pod", &pod)).unwrap_err();
        assert!(matches!(err, Error::Unsupported(_)), "{err:?}");
        assert!(
            err.to_string()
                .contains("spec.containers: field 99 of Container"),
            "{err}"
        );
        // A known field steady does not read, when set: managedFields.
        let m = [field(1, b"p"), field(17, &field(1, b"kubectl"))].concat();
        let err = decode(&envelope("v1", "ConfigMap", &field(1, &m))).unwrap_err();
        assert!(
            err.to_string()
                .contains("metadata.managedFields (ObjectMeta field 17)"),
            "{err}"
        );
        // A kind without a table.
        let err = decode(&envelope("batch/v1", "CronJob", &[])).unwrap_err();
        assert!(err.to_string().contains("application/json"), "{err}");
        // A kind under another group version.
        assert!(decode(&envelope("extensions/v1beta1", "Deployment", &[])).is_err());
    }

    #[test]
    fn truncated_or_mistyped_input_is_refused() {
        let cm = [
            field(1, &meta("cfg", &[("a", "b")])),
            field(2, &entry("k", "v")),
        ]
        .concat();
        let body = envelope("v1", "ConfigMap", &cm);
        assert!(decode(&body).is_ok());
        for cut in 0..body.len() - 4 {
            // Cutting the envelope mid-field is malformed; cutting at a field boundary of
            // the envelope is a shorter but well-formed body.
            let _ = decode(&body[..cut]);
        }
        let raw_at = body.len() - 4 - cm.len();
        assert!(decode(&body[..raw_at + 3]).is_err());
        assert!(matches!(decode(b"{}"), Err(Error::Malformed(_))));
        // A string field sent as a varint.
        let bad = envelope("v1", "ConfigMap", &field(1, &int(1, 5)));
        assert!(matches!(decode(&bad), Err(Error::Malformed(_))), "{bad:?}");
        // A length running past the end.
        let bad = envelope("v1", "ConfigMap", &[0x0a, 0x40, 0x0a]);
        assert!(matches!(decode(&bad), Err(Error::Malformed(_))));
        // Invalid UTF-8 in a string.
        let bad = envelope("v1", "ConfigMap", &field(1, &field(1, &[0xff, 0xfe])));
        assert!(matches!(decode(&bad), Err(Error::Malformed(_))));
    }

    #[test]
    fn no_input_panics() {
        // Random bytes, and random mutations of a real body, inside the envelope and out.
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let pod = [
            field(1, &meta("p", &[("a", "b")])),
            field(
                2,
                &field(
                    2,
                    &[field(1, b"c"), field(2, b"img"), field(6, &int(3, 80))].concat(),
                ),
            ),
        ]
        .concat();
        let good = envelope("v1", "Pod", &pod);
        for round in 0..20_000 {
            let len = (next() % 64) as usize;
            let mut b: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            if round % 2 == 0 {
                b = envelope("v1", "Pod", &b);
            } else if round % 3 == 0 {
                b = good.clone();
                for _ in 0..1 + next() % 4 {
                    let at = (next() as usize) % b.len();
                    b[at] = next() as u8;
                }
            }
            let _ = decode(&b);
        }
    }

    #[test]
    fn kubernetes_fields_are_told_from_misspellings() {
        let deploy = |p: &str| kubernetes_field("Deployment", p);
        assert_eq!(
            deploy("spec.template.spec.containers[0].imagePullPolicy"),
            Some(true)
        );
        assert_eq!(deploy("spec.template.spec.dnsPolicy"), Some(true));
        assert_eq!(
            deploy("spec.template.spec.containers[1].securityContext.capabilities"),
            Some(true)
        );
        // A volume's source is inlined in the volume; a map's keys are free.
        assert_eq!(
            kubernetes_field("Pod", "spec.volumes[0].hostPath.type"),
            Some(true)
        );
        assert_eq!(
            kubernetes_field("Pod", r#"metadata.labels["app.kubernetes.io/name"]"#),
            Some(true)
        );
        assert_eq!(deploy("spec.template.spec.contaienrs"), Some(false));
        assert_eq!(deploy("spec.replcias"), Some(false));
        assert_eq!(deploy("spec.replicas.value"), Some(false));
        assert_eq!(
            kubernetes_field(
                "CronJob",
                "spec.jobTemplate.spec.template.spec.containers[0].terminationMessagePolicy"
            ),
            Some(true)
        );
        assert_eq!(kubernetes_field("CronJob", "spec.bogus"), None);
        assert_eq!(kubernetes_field("Lease", "spec.holderIdentity"), None);
    }
}
