//! Turning manifest text (YAML or JSON) into JSON documents that remember their lines.
//!
//! [`parse_documents`] accepts:
//!
//! * YAML: one or many documents separated by `---`. Empty documents (including documents made
//!   only of comments, and documents that are an explicit `null`) are skipped.
//! * JSON: an object, an array of objects, or several JSON values one after the other.
//!
//! Every document must be a mapping (object). A top-level sequence (array) expands to its
//! elements, and a document whose `kind` is `List` (or ends with `List` and has an `items`
//! array, like `PodList`) expands to its `items`. Expansion happens at document level only: an
//! element of a top-level array that is itself a `List` is returned as it is.
//!
//! # YAML dialect
//!
//! YAML is read with the YAML 1.2 **core schema**, which is what JSON users expect:
//!
//! * `on`, `off`, `yes`, `no`, `y`, `n` are strings (YAML 1.1 made them booleans); only
//!   `true`/`false` (also `True`, `TRUE`, ...) are booleans.
//! * Integers stay integers (`replicas: 3` is the JSON number `3`, not `3.0`); `0o17` is octal
//!   and `0x1f` hexadecimal. `0400` is octal too (256), as Kubernetes' YAML reader (YAML 1.1)
//!   reads it: manifests from the Kubernetes documentation write file modes that way
//!   (`defaultMode: 0400`), and reading them as decimal would silently give another mode.
//!   Digits after a leading `0` that are not all octal (`089`) stay decimal. An integer too
//!   large for 64 bits becomes a floating-point number.
//! * `~`, `null` and an empty value are `null`.
//! * `.inf`, `-.inf` and `.nan` are errors: JSON cannot represent them.
//! * Mapping keys must be strings: `8080: tcp` is an error naming the line (write `"8080"`).
//! * A key given twice in one mapping is an error naming both lines.
//! * Anchors and aliases are resolved; the YAML 1.1 merge key `<<` (`<<: *defaults`, or a
//!   sequence of aliases) is supported, explicit keys winning over merged ones. To guard
//!   against "billion laughs" inputs, aliases may expand to at most 1,000,000 nodes in total.
//! * Core-schema tags (`!!str`, `!!int`, `!!float`, `!!bool`, `!!null`, `!!map`, `!!seq`,
//!   `!!binary`, `!!timestamp`) and the non-specific tag `!` are understood; any other tag is an
//!   error.
//! * Nesting is limited to 128 levels, like `serde_json`.
//!
//! # JSON input
//!
//! Text that starts like JSON (`{"`, `{}`, `[{"`, `[1`, ...) is read with `serde_json` (exact
//! numbers, speed), as one or more JSON values, and held to JSON: a JSON syntax error is
//! reported as such even where YAML would accept the text (YAML reads `{"a": }` as
//! `{"a": null}`). The one exception is JSON documents separated by `---` lines, which are
//! read as YAML. Text that does not start like JSON (`{a: b}`, `[{a: b}]`) is YAML. Like
//! `serde_json`, a key given twice in JSON keeps its last value.
//!
//! # Field lines
//!
//! [`Document::line_of`] maps a field path to the line of that field. Paths are written
//! `spec.template.spec.containers[0].image`: keys separated by `.`, array indices in brackets,
//! and keys that are not made only of ASCII letters, digits, `_` and `-` written as a JSON
//! string in brackets, e.g. `metadata.labels["app.kubernetes.io/name"]` (the format of
//! `client::merge::unknown_fields`). Kubernetes-style `metadata.labels[app.kubernetes.io/name]`
//! (unquoted in brackets) and plainly dotted `metadata.labels.app.kubernetes.io/name` are
//! accepted too.

use std::collections::{BTreeMap, HashMap};

use saphyr_parser::{Event, Parser, ScalarStyle, Tag};
use serde_json::{Map, Number, Value};

/// Deepest nesting of mappings and sequences accepted in YAML (the same limit as `serde_json`).
const MAX_DEPTH: usize = 128;

/// Most nodes that aliases may expand to in one input, against "billion laughs" inputs.
const MAX_ALIAS_NODES: usize = 1_000_000;

/// One object read from a manifest, with where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// 0-based position of the document in the text, counting documents as written: every
    /// YAML document separated by `---` counts, including empty ones that were skipped, and
    /// each JSON value of a JSON stream counts.
    pub index: usize,
    /// Position inside the `List` (its `items`) or top-level array this object was taken
    /// from; `None` when the document itself is the object.
    pub item: Option<usize>,
    /// 1-based line where the object starts (its first key for block YAML, its `{` for JSON
    /// and flow YAML).
    pub line: usize,
    /// The object, as JSON.
    pub value: Value,
    /// Lines of the fields of `value`.
    lines: Lines,
}

impl Document {
    /// Returns the 1-based line where the field at `path` appears, or `None` if there is no
    /// such field or the path is malformed.
    ///
    /// For a mapping key this is the line of the key; for an array element (`containers[0]`)
    /// the line where the element starts. The empty path gives [`Document::line`]. Paths use
    /// the format described in the [module documentation](self): `metadata.name`,
    /// `spec.template.spec.containers[0].image`, `metadata.labels["app.kubernetes.io/name"]`;
    /// the Kubernetes field-path forms `metadata.labels[app.kubernetes.io/name]` (a key that
    /// is not a number, unquoted in brackets) and `metadata.labels.app.kubernetes.io/name` (a
    /// dotted key written plainly, as `serde_path_to_error` does) are understood too.
    /// Fields that came from an alias or a merge key report the line of the anchored node they
    /// were copied from.
    #[must_use]
    pub fn line_of(&self, path: &str) -> Option<usize> {
        walk_lines(&self.lines, &parse_path(path)?, self.line)
    }
}

/// The line of the field at `segments` below `node` (whose own line is `line`).
fn walk_lines(node: &Lines, segments: &[Segment], line: usize) -> Option<usize> {
    let Some((first, rest)) = segments.split_first() else {
        return Some(line);
    };
    match (first, &node.kids) {
        (Segment::Key { name, .. }, Kids::Map(entries)) => {
            // A plainly written key may have dots in it: try `a`, then `a.b`, `a.b.c`, ...
            let mut key = name.clone();
            let mut used = 1;
            loop {
                if let Some((key_line, child)) = entries.get(&key) {
                    if let Some(found) = walk_lines(child, &segments[used..], *key_line) {
                        return Some(found);
                    }
                }
                match segments.get(used) {
                    Some(Segment::Key { name, dotted: true }) => {
                        key.push('.');
                        key.push_str(name);
                        used += 1;
                    }
                    _ => return None,
                }
            }
        }
        (Segment::Index(i), Kids::Seq(items)) => {
            let child = items.get(*i)?;
            walk_lines(child, rest, child.line)
        }
        // `[8080]` on a mapping is the key "8080".
        (Segment::Index(i), Kids::Map(entries)) => {
            let (key_line, child) = entries.get(&i.to_string())?;
            walk_lines(child, rest, *key_line)
        }
        _ => None,
    }
}

/// Why manifest text could not be turned into documents.
///
/// Displays as `document 2, line 7: mapping values are not allowed in this context` (or
/// `document 2: ...` when no line is known).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("document {document}{}: {message}", LineSuffix(*.line))]
pub struct ParseError {
    /// 1-based number of the document (as written in the text) where the problem is.
    pub document: usize,
    /// 1-based line of the problem, when known.
    pub line: Option<usize>,
    /// 1-based column of the problem, when known.
    pub column: Option<usize>,
    /// What is wrong.
    pub message: String,
}

/// Formats `, line N` when a line is known.
struct LineSuffix(Option<usize>);

impl std::fmt::Display for LineSuffix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(line) => write!(f, ", line {line}"),
            None => Ok(()),
        }
    }
}

/// Parses manifest text (YAML or JSON, see the [module documentation](self)) into documents.
///
/// Returns the objects in the order written, with `List`s and top-level arrays expanded.
/// Empty text gives an empty vector.
///
/// # Errors
///
/// Returns a [`ParseError`] naming the document and line for malformed YAML or JSON, a
/// document or list item that is not a mapping, a non-string or duplicated key, a value JSON
/// cannot represent (`.inf`, `.nan`), an unsupported tag, or an unknown alias.
pub fn parse_documents(text: &str) -> Result<Vec<Document>, ParseError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if !looks_like_json(text) {
        return parse_yaml(text);
    }
    match parse_json(text) {
        Ok(documents) => Ok(documents),
        // JSON documents separated by `---` are YAML.
        Err(json_error) if has_document_marker(text) => parse_yaml(text).map_err(|_| json_error),
        Err(json_error) => Err(json_error),
    }
}

/// Whether the text starts like JSON: after any `[`s, a `{` followed by a quoted key or `}`,
/// or (after at least one `[`) the start of a JSON scalar or `]`. `{a: b}` and `[{a: b}]` are
/// YAML flow collections.
fn looks_like_json(text: &str) -> bool {
    let mut chars = text.chars().filter(|c| !c.is_whitespace());
    let mut in_array = false;
    while let Some(c) = chars.next() {
        match c {
            '[' => in_array = true,
            '{' => return matches!(chars.next(), Some('"' | '}')),
            c => {
                return in_array && matches!(c, ']' | '"' | '-' | '0'..='9' | 't' | 'f' | 'n');
            }
        }
    }
    false
}

/// Whether some line starts with the YAML document marker `---`.
fn has_document_marker(text: &str) -> bool {
    text.lines().any(|line| line.starts_with("---"))
}

// ---------------------------------------------------------------------------------------------
// Line tree

/// Lines of a value and of everything inside it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Lines {
    /// 1-based line where the value starts.
    line: usize,
    /// Lines of the members.
    kids: Kids,
}

/// Lines of the members of a value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
enum Kids {
    /// A scalar: no members.
    #[default]
    Leaf,
    /// A mapping: for each key, the line of the key and the lines of its value.
    Map(BTreeMap<String, (usize, Lines)>),
    /// A sequence: the lines of each element.
    Seq(Vec<Lines>),
}

impl Lines {
    fn leaf(line: usize) -> Self {
        Lines {
            line,
            kids: Kids::Leaf,
        }
    }

    /// Removes and returns the lines of the value of `key`.
    fn take(&mut self, key: &str) -> Option<Lines> {
        match &mut self.kids {
            Kids::Map(entries) => entries.remove(key).map(|(_, lines)| lines),
            _ => None,
        }
    }

    /// The lines of each element of a sequence (`len` of them; missing ones default to the
    /// line of the sequence).
    fn into_items(self, len: usize) -> Vec<Lines> {
        let line = self.line;
        let mut items = match self.kids {
            Kids::Seq(items) => items,
            _ => Vec::new(),
        };
        items.resize_with(len, || Lines::leaf(line));
        items
    }
}

/// One step of a field path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    /// A key; `dotted` when it was written plainly after a `.` (and so may be the rest of a
    /// key containing dots).
    Key { name: String, dotted: bool },
    /// `[N]`: an array index (or the key "N" of a mapping).
    Index(usize),
}

/// Parses `a.b[0]["x.y"][x.y]` into segments; `None` if malformed.
fn parse_path(path: &str) -> Option<Vec<Segment>> {
    let bytes = path.as_bytes();
    let mut segments = Vec::new();
    let mut i = 0;
    let mut after_dot = false;
    while i < bytes.len() {
        match bytes[i] {
            b'[' if bytes.get(i + 1) == Some(&b'"') => {
                let start = i + 1;
                let mut j = start + 1;
                loop {
                    match bytes.get(j)? {
                        b'\\' => j += 2,
                        b'"' => break,
                        _ => j += 1,
                    }
                }
                let name: String = serde_json::from_str(path.get(start..=j)?).ok()?;
                if bytes.get(j + 1) != Some(&b']') {
                    return None;
                }
                segments.push(Segment::Key {
                    name,
                    dotted: false,
                });
                i = j + 2;
            }
            b'[' => {
                let close = i + path.get(i..)?.find(']')?;
                let inside = path.get(i + 1..close)?;
                if inside.is_empty() {
                    return None;
                }
                if inside.bytes().all(|b| b.is_ascii_digit()) {
                    segments.push(Segment::Index(inside.parse().ok()?));
                } else {
                    segments.push(Segment::Key {
                        name: inside.to_owned(),
                        dotted: false,
                    });
                }
                i = close + 1;
            }
            b'.' => {
                // A dot separates two segments: not first, not last, not doubled.
                if segments.is_empty() || matches!(bytes.get(i + 1), None | Some(b'.')) {
                    return None;
                }
                i += 1;
                after_dot = true;
                continue;
            }
            _ => {
                let rest = path.get(i..)?;
                let end = rest.find(['.', '[']).map_or(path.len(), |p| i + p);
                segments.push(Segment::Key {
                    name: path.get(i..end)?.to_owned(),
                    dotted: after_dot,
                });
                i = end;
            }
        }
        after_dot = false;
    }
    Some(segments)
}

// ---------------------------------------------------------------------------------------------
// Documents out of values

/// Where a document came from, for errors.
#[derive(Debug, Clone, Copy)]
struct Origin {
    /// 0-based document index.
    index: usize,
}

impl Origin {
    fn error(self, line: usize, message: String) -> ParseError {
        ParseError {
            document: self.index + 1,
            line: Some(line),
            column: None,
            message,
        }
    }
}

/// Turns the value of one document into objects, expanding top-level arrays and `List`s.
fn emit(
    origin: Origin,
    value: Value,
    lines: Lines,
    out: &mut Vec<Document>,
) -> Result<(), ParseError> {
    match value {
        Value::Null => Ok(()),
        Value::Object(map) => emit_object(origin, map, lines, out),
        Value::Array(elements) => {
            let items = lines.into_items(elements.len());
            for (i, (element, lines)) in elements.into_iter().zip(items).enumerate() {
                match element {
                    Value::Object(map) => out.push(Document {
                        index: origin.index,
                        item: Some(i),
                        line: lines.line,
                        value: Value::Object(map),
                        lines,
                    }),
                    other => {
                        return Err(origin.error(
                            lines.line,
                            format!(
                                "element {i} of the top-level sequence is {}, expected a mapping (object)",
                                describe(&other)
                            ),
                        ))
                    }
                }
            }
            Ok(())
        }
        other => Err(origin.error(
            lines.line,
            format!(
                "the document is {}, expected a mapping (object)",
                describe(&other)
            ),
        )),
    }
}

/// Pushes one document object, or its items if it is a `List`.
fn emit_object(
    origin: Origin,
    mut map: Map<String, Value>,
    mut lines: Lines,
    out: &mut Vec<Document>,
) -> Result<(), ParseError> {
    let kind = map.get("kind").and_then(Value::as_str).unwrap_or("");
    let is_list = match map.get("items") {
        Some(Value::Array(_)) => kind.ends_with("List"),
        Some(Value::Null) | None => kind == "List",
        Some(other) if kind == "List" => {
            let line = match &lines.kids {
                Kids::Map(entries) => entries.get("items").map_or(lines.line, |e| e.0),
                _ => lines.line,
            };
            return Err(origin.error(
                line,
                format!(
                    "`items` of a List is {}, expected a sequence",
                    describe(other)
                ),
            ));
        }
        Some(_) => false,
    };
    if !is_list {
        out.push(Document {
            index: origin.index,
            item: None,
            line: lines.line,
            value: Value::Object(map),
            lines,
        });
        return Ok(());
    }
    let list_line = lines.line;
    let items = match map.remove("items") {
        Some(Value::Array(items)) => items,
        _ => Vec::new(),
    };
    let item_lines = lines
        .take("items")
        .unwrap_or_else(|| Lines::leaf(list_line))
        .into_items(items.len());
    for (i, (item, lines)) in items.into_iter().zip(item_lines).enumerate() {
        match item {
            Value::Object(item) => out.push(Document {
                index: origin.index,
                item: Some(i),
                line: lines.line,
                value: Value::Object(item),
                lines,
            }),
            other => {
                return Err(origin.error(
                    lines.line,
                    format!(
                        "items[{i}] of the List is {}, expected a mapping (object)",
                        describe(&other)
                    ),
                ))
            }
        }
    }
    Ok(())
}

/// "a string", "a sequence", ... for messages.
fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a sequence (array)",
        Value::Object(_) => "a mapping (object)",
    }
}

// ---------------------------------------------------------------------------------------------
// JSON

/// Parses a stream of JSON values (usually one).
fn parse_json(text: &str) -> Result<Vec<Document>, ParseError> {
    let mut out = Vec::new();
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Value>();
    let mut index = 0;
    loop {
        let offset = stream.byte_offset();
        let value = match stream.next() {
            None => break,
            Some(Ok(value)) => value,
            Some(Err(e)) => {
                return Err(ParseError {
                    document: index + 1,
                    line: Some(e.line()),
                    column: Some(e.column()),
                    message: e.to_string(),
                })
            }
        };
        let lines = JsonLines::new(text, offset).value(0);
        emit(Origin { index }, value, lines, &mut out)?;
        index += 1;
    }
    Ok(out)
}

/// A lenient scanner over JSON text (already validated by `serde_json`) that records the line
/// of every key and value.
struct JsonLines<'a> {
    text: &'a str,
    pos: usize,
    line: usize,
}

impl<'a> JsonLines<'a> {
    fn new(text: &'a str, pos: usize) -> Self {
        let before = text.get(..pos).unwrap_or("");
        let line = 1 + before.bytes().filter(|&b| b == b'\n').count();
        JsonLines { text, pos, line }
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn skip_blanks(&mut self) {
        while let Some(b) = self.peek() {
            match b {
                b'\n' => self.line += 1,
                b' ' | b'\t' | b'\r' => {}
                _ => break,
            }
            self.pos += 1;
        }
    }

    /// Lines of the value at the cursor.
    fn value(&mut self, depth: usize) -> Lines {
        self.skip_blanks();
        let line = self.line;
        if depth > MAX_DEPTH {
            return Lines::leaf(line);
        }
        match self.peek() {
            Some(b'{') => {
                self.pos += 1;
                let mut entries = BTreeMap::new();
                loop {
                    self.skip_blanks();
                    match self.peek() {
                        Some(b',') => self.pos += 1,
                        Some(b'"') => {
                            let key_line = self.line;
                            let key = self.string();
                            self.skip_blanks();
                            if self.peek() == Some(b':') {
                                self.pos += 1;
                            }
                            let value = self.value(depth + 1);
                            entries.insert(key, (key_line, value));
                        }
                        Some(b'}') => {
                            self.pos += 1;
                            break;
                        }
                        _ => break,
                    }
                }
                Lines {
                    line,
                    kids: Kids::Map(entries),
                }
            }
            Some(b'[') => {
                self.pos += 1;
                let mut items = Vec::new();
                loop {
                    self.skip_blanks();
                    match self.peek() {
                        Some(b',') => self.pos += 1,
                        Some(b']') => {
                            self.pos += 1;
                            break;
                        }
                        None => break,
                        Some(_) => {
                            let before = self.pos;
                            items.push(self.value(depth + 1));
                            if self.pos == before {
                                break;
                            }
                        }
                    }
                }
                Lines {
                    line,
                    kids: Kids::Seq(items),
                }
            }
            Some(b'"') => {
                self.string();
                Lines::leaf(line)
            }
            _ => {
                while let Some(b) = self.peek() {
                    if matches!(b, b',' | b']' | b'}' | b' ' | b'\t' | b'\r' | b'\n') {
                        break;
                    }
                    self.pos += 1;
                }
                Lines::leaf(line)
            }
        }
    }

    /// Reads the string at the cursor (which is on its opening quote) and returns its text.
    fn string(&mut self) -> String {
        let start = self.pos;
        self.pos += 1;
        let mut escaped = false;
        while let Some(b) = self.peek() {
            self.pos += 1;
            match b {
                b'\\' => {
                    escaped = true;
                    self.pos += 1;
                }
                b'"' => break,
                _ => {}
            }
        }
        let raw = self.text.get(start..self.pos).unwrap_or("");
        if escaped {
            serde_json::from_str(raw).unwrap_or_default()
        } else {
            raw.get(1..raw.len().saturating_sub(1))
                .unwrap_or("")
                .to_owned()
        }
    }
}

// ---------------------------------------------------------------------------------------------
// YAML

/// A finished YAML node.
#[derive(Debug, Clone)]
struct Node {
    value: Value,
    lines: Lines,
    /// Number of nodes inside, itself included (for the alias budget).
    size: usize,
}

/// A key waiting for its value.
enum Key {
    /// An ordinary key, with its 1-based line and column.
    Plain(String, usize, usize),
    /// The merge key `<<`.
    Merge,
}

/// A collection being built, with the 1-based line and column where it starts.
enum Frame {
    Seq {
        anchor: usize,
        line: usize,
        column: usize,
        values: Vec<Value>,
        lines: Vec<Lines>,
        size: usize,
    },
    Map {
        anchor: usize,
        line: usize,
        column: usize,
        values: Map<String, Value>,
        lines: BTreeMap<String, (usize, Lines)>,
        key: Option<Key>,
        merges: Vec<Node>,
        size: usize,
    },
}

/// An error found while building, with its 1-based line and column.
struct At {
    line: usize,
    column: usize,
    message: String,
}

impl At {
    fn new(line: usize, column: usize, message: impl Into<String>) -> Self {
        At {
            line,
            column,
            message: message.into(),
        }
    }
}

/// Builds JSON values (and their lines) out of parser events.
#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    anchors: HashMap<usize, Node>,
    alias_nodes: usize,
    root: Option<Node>,
}

impl Builder {
    fn start(&mut self, frame: Frame, line: usize, column: usize) -> Result<(), At> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(At::new(
                line,
                column,
                format!("nesting deeper than {MAX_DEPTH} levels"),
            ));
        }
        self.stack.push(frame);
        Ok(())
    }

    /// Finishes the collection on top of the stack and attaches it to its parent.
    fn end(&mut self) -> Result<(), At> {
        let Some(frame) = self.stack.pop() else {
            return Ok(());
        };
        let (anchor, column, node) = match frame {
            Frame::Seq {
                anchor,
                line,
                column,
                values,
                lines,
                size,
            } => (
                anchor,
                column,
                Node {
                    value: Value::Array(values),
                    lines: Lines {
                        line,
                        kids: Kids::Seq(lines),
                    },
                    size: size + 1,
                },
            ),
            Frame::Map {
                anchor,
                line,
                column,
                mut values,
                mut lines,
                merges,
                mut size,
                ..
            } => {
                // Explicit keys win over merged ones, earlier merged mappings over later ones.
                for merged in merges {
                    size += merged.size;
                    let Value::Object(merged_values) = merged.value else {
                        continue;
                    };
                    let mut merged_lines = match merged.lines.kids {
                        Kids::Map(entries) => entries,
                        _ => BTreeMap::new(),
                    };
                    for (key, value) in merged_values {
                        if !values.contains_key(&key) {
                            let key_lines = merged_lines
                                .remove(&key)
                                .unwrap_or((merged.lines.line, Lines::leaf(merged.lines.line)));
                            lines.insert(key.clone(), key_lines);
                            values.insert(key, value);
                        }
                    }
                }
                (
                    anchor,
                    column,
                    Node {
                        value: Value::Object(values),
                        lines: Lines {
                            line,
                            kids: Kids::Map(lines),
                        },
                        size: size + 1,
                    },
                )
            }
        };
        let line = node.lines.line;
        self.finish(node, anchor, false, line, column)
    }

    /// Records a finished node under its anchor and attaches it to its parent.
    fn finish(
        &mut self,
        node: Node,
        anchor: usize,
        merge_key: bool,
        line: usize,
        column: usize,
    ) -> Result<(), At> {
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        self.attach(node, merge_key, line, column)
    }

    /// Expands an alias.
    fn alias(&mut self, id: usize, line: usize, column: usize) -> Result<(), At> {
        let Some(node) = self.anchors.get(&id) else {
            return Err(At::new(line, column, "alias to an unknown anchor"));
        };
        self.alias_nodes = self.alias_nodes.saturating_add(node.size);
        if self.alias_nodes > MAX_ALIAS_NODES {
            return Err(At::new(
                line,
                column,
                format!("aliases expand to more than {MAX_ALIAS_NODES} nodes"),
            ));
        }
        let mut node = node.clone();
        node.lines.line = line;
        self.attach(node, false, line, column)
    }

    fn attach(
        &mut self,
        node: Node,
        merge_key: bool,
        line: usize,
        column: usize,
    ) -> Result<(), At> {
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Frame::Seq {
                values,
                lines,
                size,
                ..
            }) => {
                *size += node.size;
                values.push(node.value);
                lines.push(node.lines);
            }
            Some(Frame::Map {
                values,
                lines,
                key,
                merges,
                size,
                ..
            }) => match key.take() {
                None if merge_key => *key = Some(Key::Merge),
                None => match node.value {
                    Value::String(name) => *key = Some(Key::Plain(name, line, column)),
                    // As kubectl does (YAML to JSON), a number or boolean key becomes its text:
                    // ConfigMaps such as `data: {8080: "default/web:80"}` apply unchanged.
                    Value::Bool(_) | Value::Number(_) => {
                        *key = Some(Key::Plain(node.value.to_string(), line, column))
                    }
                    other => {
                        let hint = match &other {
                            Value::Null => format!(" (quote it: \"{other}\")"),
                            _ => String::new(),
                        };
                        return Err(At::new(
                            line,
                            column,
                            format!(
                                "mapping keys must be strings, found {} {}{hint}",
                                describe(&other),
                                compact(&other)
                            ),
                        ));
                    }
                },
                Some(Key::Plain(name, key_line, key_column)) => {
                    if let Some((first, _)) = lines.get(&name) {
                        return Err(At::new(
                            key_line,
                            key_column,
                            format!("duplicate key {name:?} (first given at line {first})"),
                        ));
                    }
                    *size += node.size;
                    values.insert(name.clone(), node.value);
                    lines.insert(name, (key_line, node.lines));
                }
                Some(Key::Merge) => match node.value {
                    Value::Object(_) => merges.push(node),
                    Value::Array(elements) => {
                        let items = node.lines.into_items(elements.len());
                        for (element, lines) in elements.into_iter().zip(items) {
                            if !element.is_object() {
                                return Err(At::new(
                                    lines.line,
                                    column,
                                    "the merge key `<<` takes a mapping or a sequence of mappings",
                                ));
                            }
                            merges.push(Node {
                                value: element,
                                lines,
                                size: 1,
                            });
                        }
                    }
                    _ => {
                        return Err(At::new(
                            line,
                            column,
                            "the merge key `<<` takes a mapping or a sequence of mappings",
                        ))
                    }
                },
            },
        }
        Ok(())
    }
}

/// A short rendering of a scalar for messages.
fn compact(value: &Value) -> String {
    match value {
        Value::Array(_) | Value::Object(_) => String::new(),
        other => other.to_string(),
    }
}

/// Parses a YAML stream.
fn parse_yaml(text: &str) -> Result<Vec<Document>, ParseError> {
    let mut parser = Parser::new_from_str(text);
    let mut builder = Builder::default();
    let mut out = Vec::new();
    // Number of documents started so far (the current document's 1-based number).
    let mut documents = 0usize;
    while let Some(next) = parser.next_event() {
        let (event, span) = next.map_err(|e| ParseError {
            document: documents.max(1),
            line: Some(e.marker().line()),
            column: Some(e.marker().col() + 1),
            message: e.info().to_owned(),
        })?;
        let line = span.start.line();
        let column = span.start.col() + 1;
        let step = match event {
            Event::StreamStart | Event::StreamEnd | Event::Nothing => Ok(()),
            Event::DocumentStart(_) => {
                documents += 1;
                builder = Builder::default();
                Ok(())
            }
            Event::DocumentEnd => {
                if let Some(root) = builder.root.take() {
                    let origin = Origin {
                        index: documents.saturating_sub(1),
                    };
                    emit(origin, root.value, root.lines, &mut out)?;
                }
                Ok(())
            }
            Event::Scalar(text, style, anchor, tag) => {
                let merge_key = text == "<<" && style == ScalarStyle::Plain && tag.is_none();
                match resolve_scalar(&text, style, tag.as_deref()) {
                    Ok(value) => builder.finish(
                        Node {
                            value,
                            lines: Lines::leaf(line),
                            size: 1,
                        },
                        anchor,
                        merge_key,
                        line,
                        column,
                    ),
                    Err(message) => Err(At::new(line, column, message)),
                }
            }
            Event::Alias(id) => builder.alias(id, line, column),
            Event::SequenceStart(anchor, tag) => check_collection_tag(tag.as_deref(), "seq")
                .map_err(|message| At::new(line, column, message))
                .and_then(|()| {
                    let frame = Frame::Seq {
                        anchor,
                        line,
                        column,
                        values: Vec::new(),
                        lines: Vec::new(),
                        size: 0,
                    };
                    builder.start(frame, line, column)
                }),
            Event::MappingStart(anchor, tag) => check_collection_tag(tag.as_deref(), "map")
                .map_err(|message| At::new(line, column, message))
                .and_then(|()| {
                    let frame = Frame::Map {
                        anchor,
                        line,
                        column,
                        values: Map::new(),
                        lines: BTreeMap::new(),
                        key: None,
                        merges: Vec::new(),
                        size: 0,
                    };
                    builder.start(frame, line, column)
                }),
            Event::SequenceEnd | Event::MappingEnd => builder.end(),
        };
        step.map_err(|at| ParseError {
            document: documents.max(1),
            line: Some(at.line),
            column: Some(at.column),
            message: at.message,
        })?;
    }
    Ok(out)
}

/// Checks the tag of a mapping (`want` = `map`) or sequence (`seq`).
fn check_collection_tag(tag: Option<&Tag>, want: &str) -> Result<(), String> {
    match tag {
        None => Ok(()),
        Some(tag) if is_non_specific(tag) => Ok(()),
        Some(tag) if tag.is_yaml_core_schema() && tag.suffix == want => Ok(()),
        Some(tag) => Err(format!("unsupported tag {}", show_tag(tag))),
    }
}

/// The non-specific tag `!`.
fn is_non_specific(tag: &Tag) -> bool {
    (tag.handle.is_empty() && tag.suffix == "!") || (tag.handle == "!" && tag.suffix.is_empty())
}

/// A tag as written (`!!int`, `!local`).
fn show_tag(tag: &Tag) -> String {
    if tag.is_yaml_core_schema() {
        format!("!!{}", tag.suffix)
    } else if tag.handle.is_empty() {
        tag.suffix.clone()
    } else {
        format!("{}{}", tag.handle, tag.suffix)
    }
}

/// Resolves a scalar to JSON with the YAML 1.2 core schema.
fn resolve_scalar(text: &str, style: ScalarStyle, tag: Option<&Tag>) -> Result<Value, String> {
    let Some(tag) = tag else {
        return if style == ScalarStyle::Plain {
            resolve_plain(text)
        } else {
            Ok(Value::String(text.to_owned()))
        };
    };
    if is_non_specific(tag) {
        return Ok(Value::String(text.to_owned()));
    }
    if !tag.is_yaml_core_schema() {
        return Err(format!("unsupported tag {}", show_tag(tag)));
    }
    let invalid = || format!("{text:?} is not a valid !!{}", tag.suffix);
    match tag.suffix.as_str() {
        "str" | "binary" | "timestamp" => Ok(Value::String(text.to_owned())),
        "null" => match text {
            "" | "~" | "null" | "Null" | "NULL" => Ok(Value::Null),
            _ => Err(invalid()),
        },
        "bool" => parse_bool(text).map(Value::Bool).ok_or_else(invalid),
        "int" => parse_int(text)?.ok_or_else(invalid),
        "float" => {
            check_special_float(text)?;
            let number = if is_float(text) {
                text.parse::<f64>().map_err(|_| invalid())?
            } else {
                match parse_int(text)? {
                    Some(Value::Number(n)) => n.as_f64().ok_or_else(invalid)?,
                    _ => return Err(invalid()),
                }
            };
            float(number, text)
        }
        _ => Err(format!("unsupported tag {} on a scalar", show_tag(tag))),
    }
}

/// Resolves an untagged plain scalar.
fn resolve_plain(text: &str) -> Result<Value, String> {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Ok(Value::Null),
        _ => {}
    }
    if let Some(b) = parse_bool(text) {
        return Ok(Value::Bool(b));
    }
    check_special_float(text)?;
    if let Some(int) = parse_int(text)? {
        return Ok(int);
    }
    if is_float(text) {
        let number = text
            .parse::<f64>()
            .map_err(|e| format!("invalid number {text}: {e}"))?;
        return float(number, text);
    }
    Ok(Value::String(text.to_owned()))
}

fn parse_bool(text: &str) -> Option<bool> {
    match text {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

/// Rejects `.inf`, `-.inf`, `.nan` and friends, which JSON cannot represent.
fn check_special_float(text: &str) -> Result<(), String> {
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    let infinite = matches!(unsigned, ".inf" | ".Inf" | ".INF");
    let nan = matches!(text, ".nan" | ".NaN" | ".NAN");
    if infinite || nan {
        Err(format!(
            "{text} (an infinite or not-a-number float) cannot be represented in JSON"
        ))
    } else {
        Ok(())
    }
}

/// A finite float as JSON.
fn float(number: f64, text: &str) -> Result<Value, String> {
    Number::from_f64(number)
        .map(Value::Number)
        .ok_or_else(|| format!("{text} is out of range for a JSON number"))
}

/// Core-schema integers: `[-+]?[0-9]+`, `0o[0-7]+`, `0x[0-9a-fA-F]+`. `Ok(None)` if `text` is
/// not an integer.
fn parse_int(text: &str) -> Result<Option<Value>, String> {
    let radix = |digits: &str, radix: u32| -> Result<Option<Value>, String> {
        if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
            return Ok(None);
        }
        u64::from_str_radix(digits, radix)
            .map(|n| Some(Value::from(n)))
            .map_err(|_| format!("integer {text} is out of range"))
    };
    if let Some(digits) = text.strip_prefix("0o") {
        return radix(digits, 8);
    }
    if let Some(digits) = text.strip_prefix("0x") {
        return radix(digits, 16);
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(None);
    }
    // YAML 1.1 (Kubernetes) octal: `0644`.
    if digits.len() > 1 && digits.starts_with('0') && digits.bytes().all(|b| b < b'8') {
        let n = i64::from_str_radix(digits, 8)
            .map_err(|_| format!("integer {text} is out of range"))?;
        return Ok(Some(Value::from(if text.starts_with('-') {
            -n
        } else {
            n
        })));
    }
    if let Ok(n) = text.parse::<i64>() {
        return Ok(Some(Value::from(n)));
    }
    if !text.starts_with('-') {
        if let Ok(n) = digits.parse::<u64>() {
            return Ok(Some(Value::from(n)));
        }
    }
    let number = text
        .parse::<f64>()
        .map_err(|e| format!("invalid number {text}: {e}"))?;
    float(number, text).map(Some)
}

/// Core-schema floats: `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`.
fn is_float(text: &str) -> bool {
    let bytes = text.as_bytes();
    let digits_from = |mut i: usize| {
        let start = i;
        while bytes.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        i - start
    };
    let mut i = usize::from(matches!(bytes.first(), Some(b'-' | b'+')));
    let whole = digits_from(i);
    i += whole;
    if bytes.get(i) == Some(&b'.') {
        let fraction = digits_from(i + 1);
        if whole == 0 && fraction == 0 {
            return false;
        }
        i += 1 + fraction;
    } else if whole == 0 {
        return false;
    }
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(bytes.get(i), Some(b'-' | b'+')) {
            i += 1;
        }
        let exponent = digits_from(i);
        if exponent == 0 {
            return false;
        }
        i += exponent;
    }
    i == bytes.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(text: &str) -> Vec<Document> {
        parse_documents(text).unwrap_or_else(|e| panic!("{e}"))
    }

    fn parse_err(text: &str) -> ParseError {
        match parse_documents(text) {
            Ok(docs) => panic!("expected an error, got {docs:?}"),
            Err(e) => e,
        }
    }

    const DEPLOYMENT: &str = "\
# A deployment
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    app.kubernetes.io/name: web
    tier: front
spec:
  replicas: 3
  template:
    spec:
      containers:
      - name: nginx
        image: nginx:1.27
        ports:
          - containerPort: 80
      - name: sidecar
        image: busybox
";

    #[test]
    fn single_yaml_document_becomes_one_json_object() {
        let docs = parse(DEPLOYMENT);
        assert_eq!(docs.len(), 1);
        let doc = &docs[0];
        assert_eq!((doc.index, doc.item, doc.line), (0, None, 2));
        assert_eq!(doc.value["spec"]["replicas"], json!(3));
        assert!(doc.value["spec"]["replicas"].is_i64());
        assert_eq!(
            doc.value["spec"]["template"]["spec"]["containers"][1]["image"],
            json!("busybox")
        );
    }

    #[test]
    fn line_of_finds_keys_and_list_elements_in_block_yaml() {
        let doc = &parse(DEPLOYMENT)[0];
        assert_eq!(doc.line_of(""), Some(2));
        assert_eq!(doc.line_of("kind"), Some(3));
        assert_eq!(doc.line_of("metadata.name"), Some(5));
        assert_eq!(
            doc.line_of("metadata.labels[\"app.kubernetes.io/name\"]"),
            Some(7)
        );
        assert_eq!(doc.line_of("metadata[\"labels\"].tier"), Some(8));
        assert_eq!(doc.line_of("spec.replicas"), Some(10));
        assert_eq!(doc.line_of("spec.template.spec.containers[0]"), Some(14));
        assert_eq!(
            doc.line_of("spec.template.spec.containers[0].image"),
            Some(15)
        );
        assert_eq!(
            doc.line_of("spec.template.spec.containers[0].ports[0].containerPort"),
            Some(17)
        );
        assert_eq!(
            doc.line_of("spec.template.spec.containers[1].image"),
            Some(19)
        );
    }

    #[test]
    fn line_of_understands_kubernetes_field_path_forms() {
        let doc = &parse(DEPLOYMENT)[0];
        // Unquoted key in brackets, as validation errors write label keys.
        assert_eq!(
            doc.line_of("metadata.labels[app.kubernetes.io/name]"),
            Some(7)
        );
        assert_eq!(doc.line_of("metadata.labels[tier]"), Some(8));
        // A dotted key written plainly, as serde_path_to_error does.
        assert_eq!(
            doc.line_of("metadata.labels.app.kubernetes.io/name"),
            Some(7)
        );
        assert_eq!(doc.line_of("metadata.labels.app.kubernetes"), None);
        // A numeric key in brackets on a mapping.
        let doc = &parse("data:\n  \"8080\": a\n  x.y:\n    z: 1\n")[0];
        assert_eq!(doc.line_of("data[8080]"), Some(2));
        assert_eq!(doc.line_of("data.x.y.z"), Some(4));
    }

    #[test]
    fn line_of_returns_none_for_missing_fields_and_bad_paths() {
        let doc = &parse(DEPLOYMENT)[0];
        assert_eq!(doc.line_of("spec.missing"), None);
        assert_eq!(doc.line_of("spec.template.spec.containers[5]"), None);
        assert_eq!(doc.line_of("spec.replicas.deeper"), None);
        assert_eq!(doc.line_of("spec[0]"), None);
        assert_eq!(doc.line_of("spec..replicas"), None);
        assert_eq!(doc.line_of(".spec"), None);
        assert_eq!(doc.line_of("spec."), None);
        assert_eq!(doc.line_of("spec[x]"), None);
        assert_eq!(doc.line_of("metadata.labels[\"unterminated"), None);
    }

    #[test]
    fn multiple_documents_are_split_and_empty_ones_skipped_but_counted() {
        let text = "\
---
kind: A
---
# only a comment
---
---
kind: B
...
---
kind: C
";
        let docs = parse(text);
        let summary: Vec<_> = docs
            .iter()
            .map(|d| (d.index, d.value["kind"].as_str().unwrap(), d.line))
            .collect();
        assert_eq!(summary, vec![(0, "A", 2), (3, "B", 7), (4, "C", 10)]);
    }

    #[test]
    fn empty_and_comment_only_text_gives_no_documents() {
        assert!(parse("").is_empty());
        assert!(parse("   \n\n").is_empty());
        assert!(parse("# nothing\n---\n# still nothing\n").is_empty());
        assert!(parse("~\n").is_empty());
    }

    #[test]
    fn list_kind_expands_to_items_with_their_lines() {
        let text = "\
apiVersion: v1
kind: List
items:
- kind: ConfigMap
  metadata:
    name: a
- kind: Secret
  metadata:
    name: b
";
        let docs = parse(text);
        assert_eq!(docs.len(), 2);
        assert_eq!((docs[0].index, docs[0].item, docs[0].line), (0, Some(0), 4));
        assert_eq!((docs[1].index, docs[1].item, docs[1].line), (0, Some(1), 7));
        assert_eq!(
            docs[1].value,
            json!({"kind": "Secret", "metadata": {"name": "b"}})
        );
        assert_eq!(docs[1].line_of("metadata.name"), Some(9));
    }

    #[test]
    fn typed_list_kinds_expand_only_with_items() {
        let docs = parse("kind: PodList\nitems:\n- kind: Pod\n");
        assert_eq!(docs.len(), 1);
        assert_eq!(docs[0].value, json!({"kind": "Pod"}));
        // A kind that merely ends with "List" but has no items array is an ordinary object.
        let docs = parse("kind: AllowList\nspec: {}\n");
        assert_eq!(docs[0].value["kind"], json!("AllowList"));
        assert!(parse("kind: List\n").is_empty());
    }

    #[test]
    fn list_item_that_is_not_an_object_is_an_error() {
        let e = parse_err("kind: List\nitems:\n- kind: A\n- 42\n");
        assert_eq!((e.document, e.line), (1, Some(4)));
        assert!(e.message.contains("items[1]"), "{e}");
        let e = parse_err("kind: List\nitems: nope\n");
        assert_eq!(e.line, Some(2));
    }

    #[test]
    fn top_level_yaml_sequence_expands_to_elements() {
        let docs = parse("- kind: A\n- kind: B\n  x: 1\n");
        assert_eq!(docs.len(), 2);
        assert_eq!((docs[1].item, docs[1].line), (Some(1), 2));
        assert_eq!(docs[1].line_of("x"), Some(3));
    }

    #[test]
    fn json_object_is_parsed_exactly() {
        let text = "{\n  \"kind\": \"Pod\",\n  \"spec\": {\n    \"n\": 12345678901234567890,\n    \"f\": 1.5,\n    \"i\": -3\n  }\n}\n";
        let docs = parse(text);
        assert_eq!(docs.len(), 1);
        assert_eq!(docs[0].value, serde_json::from_str::<Value>(text).unwrap());
        assert!(docs[0].value["spec"]["n"].is_u64());
        assert_eq!(docs[0].line, 1);
        assert_eq!(docs[0].line_of("kind"), Some(2));
        assert_eq!(docs[0].line_of("spec.f"), Some(5));
    }

    #[test]
    fn json_array_expands_to_objects_with_lines() {
        let text = "[\n  {\"kind\": \"A\"},\n  {\n    \"kind\": \"B\",\n    \"list\": [1, {\"x\": \"y\"}],\n    \"a.b\": \"esc\\\"aped\"\n  }\n]";
        let docs = parse(text);
        assert_eq!(docs.len(), 2);
        assert_eq!((docs[0].item, docs[0].line), (Some(0), 2));
        assert_eq!((docs[1].item, docs[1].line), (Some(1), 3));
        assert_eq!(docs[1].line_of("kind"), Some(4));
        assert_eq!(docs[1].line_of("list[1].x"), Some(5));
        assert_eq!(docs[1].line_of("[\"a.b\"]"), Some(6));
        assert_eq!(docs[1].value["a.b"], json!("esc\"aped"));
    }

    #[test]
    fn json_list_kind_and_json_streams_expand() {
        let text = "{\"kind\": \"List\", \"items\": [{\"kind\": \"A\"}]}\n{\"kind\": \"B\"}\n";
        let docs = parse(text);
        let got: Vec<_> = docs.iter().map(|d| (d.index, d.item, d.line)).collect();
        assert_eq!(got, vec![(0, Some(0), 1), (1, None, 2)]);
    }

    #[test]
    fn json_with_escaped_keys_reports_lines() {
        let text = "{\n\"we\\u0069rd\": {\n  \"k\": 1}}";
        let doc = &parse(text)[0];
        assert_eq!(doc.line_of("weird.k"), Some(3));
    }

    #[test]
    fn invalid_json_reports_the_json_error() {
        // YAML would read `"spec": }` as null; JSON-looking text is held to JSON.
        let e = parse_err("{\n  \"kind\": \"Pod\",\n  \"spec\": }\n");
        assert_eq!((e.document, e.line), (1, Some(3)));
        let e = parse_err("[{\"kind\": \"A\"}, {\"kind\": \"B\",}]");
        assert_eq!((e.document, e.line), (1, Some(1)));
        assert!(e.column.is_some());
    }

    #[test]
    fn json_documents_separated_by_dashes_are_read_as_yaml() {
        let docs = parse("{\"kind\": \"A\"}\n---\n{\"kind\": \"B\",\n \"x\": 1}\n");
        let got: Vec<_> = docs
            .iter()
            .map(|d| (d.index, d.line, d.line_of("x")))
            .collect();
        assert_eq!(got, vec![(0, 1, None), (1, 3, Some(4))]);
    }

    #[test]
    fn yaml_flow_mapping_starting_with_brace_is_yaml() {
        let docs = parse("{kind: Pod, spec: {replicas: 2}}\n");
        assert_eq!(
            docs[0].value,
            json!({"kind": "Pod", "spec": {"replicas": 2}})
        );
        let docs = parse("[{kind: A}, {kind: B}]\n");
        assert_eq!(docs[1].value, json!({"kind": "B"}));
    }

    #[test]
    fn json_detection_looks_past_opening_brackets() {
        assert!(looks_like_json(" \n{\"a\": 1}"));
        assert!(looks_like_json("{}"));
        assert!(looks_like_json("[ [ {\"a\": 1}]]"));
        assert!(looks_like_json("[]"));
        assert!(looks_like_json("[1, 2]"));
        assert!(!looks_like_json("{a: 1}"));
        assert!(!looks_like_json("[{a: 1}]"));
        assert!(!looks_like_json("[a, b]"));
        assert!(!looks_like_json("# {\"a\": 1}"));
        assert!(!looks_like_json(""));
    }

    #[test]
    fn integers_stay_integers_and_floats_stay_floats() {
        let doc = &parse(
            "a: 3\nb: -7\nc: +4\nd: 0o17\ne: 0x1F\nf: 1.5\ng: 2.0\nh: 1e3\ni: .5\nj: 017\nk: 18446744073709551615\nl: 99999999999999999999999\nm: 0400\nn: 089\no: 0\n",
        )[0];
        let v = &doc.value;
        assert!(v["a"].is_i64() && v["a"] == json!(3));
        assert_eq!(v["b"], json!(-7));
        assert_eq!(v["c"], json!(4));
        assert_eq!(v["d"], json!(15));
        assert_eq!(v["e"], json!(31));
        assert_eq!(v["f"], json!(1.5));
        assert!(v["g"].is_f64());
        assert_eq!(v["h"], json!(1000.0));
        assert_eq!(v["i"], json!(0.5));
        // Kubernetes reads a leading 0 as octal: `defaultMode: 0400` is 256.
        assert_eq!(v["j"], json!(15));
        assert_eq!(v["m"], json!(256));
        assert_eq!(v["n"], json!(89));
        assert_eq!(v["o"], json!(0));
        assert_eq!(v["k"], json!(u64::MAX));
        assert!(v["l"].is_f64());
    }

    #[test]
    fn yaml_1_1_booleans_stay_strings() {
        let doc =
            &parse("on: yes\noff: no\ny: n\nt: true\nT: TRUE\nf: False\nx: 1_000\nv: 1.2.3\n")[0];
        assert_eq!(
            doc.value,
            json!({"on": "yes", "off": "no", "y": "n", "t": true, "T": true, "f": false, "x": "1_000", "v": "1.2.3"})
        );
    }

    #[test]
    fn nulls_and_quoted_scalars_resolve_like_yaml_1_2() {
        let doc = &parse("a:\nb: ~\nc: null\nd: 'null'\ne: \"3\"\nf: |\n  text\ng: '~'\n")[0];
        assert_eq!(
            doc.value,
            json!({"a": null, "b": null, "c": null, "d": "null", "e": "3", "f": "text\n", "g": "~"})
        );
    }

    #[test]
    fn tags_from_the_core_schema_are_applied() {
        let doc = &parse(
            "a: !!str 3\nb: !!int \"4\"\nc: !!float 5\nd: ! 6\ne: !!bool 'true'\nf: !!map {x: 1}\n",
        )[0];
        assert_eq!(
            doc.value,
            json!({"a": "3", "b": 4, "c": 5.0, "d": "6", "e": true, "f": {"x": 1}})
        );
    }

    #[test]
    fn unknown_and_mismatched_tags_are_errors() {
        let e = parse_err("a: 1\nb: !Ref thing\n");
        assert_eq!(e.line, Some(2));
        assert!(e.message.contains("!Ref"), "{e}");
        assert!(parse_err("a: !!int nope\n").message.contains("!!int"));
        assert!(parse_err("a: !!seq {x: 1}\n").message.contains("!!seq"));
    }

    #[test]
    fn non_json_floats_are_errors_naming_the_line() {
        for bad in [".inf", "-.inf", ".NaN", "1e999"] {
            let e = parse_err(&format!("kind: X\nvalue: {bad}\n"));
            assert_eq!((e.document, e.line), (1, Some(2)), "{bad}: {e}");
        }
    }

    #[test]
    fn number_and_boolean_keys_become_strings_as_kubectl_does() {
        assert_eq!(
            parse("kind: ConfigMap\ndata:\n  8080: default/web:80\n  true: x\n")[0].value,
            json!({"kind": "ConfigMap", "data": {"8080": "default/web:80", "true": "x"}})
        );
        assert_eq!(parse("\"8080\": tcp\n")[0].value, json!({"8080": "tcp"}));
    }

    #[test]
    fn null_and_compound_keys_are_errors_naming_the_line() {
        let e = parse_err("kind: A\n? [a, b]\n: x\n");
        assert!(e.message.contains("sequence"), "{e}");
        assert_eq!((e.line, e.column), (Some(2), Some(3)));
        assert!(parse_err("~: x\n").message.contains("null"));
    }

    #[test]
    fn duplicate_keys_are_errors_naming_both_lines() {
        let e = parse_err("a: 1\nb: 2\n  \nx:\n  a: 0\n  b: 1\n  a: 3\n");
        assert_eq!((e.line, e.column), (Some(7), Some(3)));
        assert!(e.message.contains("line 5"), "{e}");
        let e = parse_err("a: 1\nb: 2\na: 3\n");
        assert_eq!(e.line, Some(3));
        assert!(e.message.contains("line 1"), "{e}");
    }

    #[test]
    fn documents_that_are_not_mappings_are_errors_naming_document_and_line() {
        let e = parse_err("kind: A\n---\n\njust a string\n");
        assert_eq!((e.document, e.line), (2, Some(4)));
        assert_eq!(
            e.to_string(),
            "document 2, line 4: the document is a string, expected a mapping (object)"
        );
        let e = parse_err("- kind: A\n- 3\n");
        assert_eq!((e.document, e.line), (1, Some(2)));
    }

    #[test]
    fn syntax_errors_name_document_line_and_column() {
        let e = parse_err("kind: A\n---\nkind: B\nmetadata:\n  name: a: b\n");
        assert_eq!(e.document, 2);
        assert_eq!(e.line, Some(5));
        assert!(e.column.is_some());
        assert_eq!(e.to_string(), format!("document 2, line 5: {}", e.message));
    }

    #[test]
    fn error_display_omits_unknown_line() {
        let e = ParseError {
            document: 3,
            line: None,
            column: None,
            message: "boom".into(),
        };
        assert_eq!(e.to_string(), "document 3: boom");
    }

    #[test]
    fn anchors_and_aliases_are_resolved() {
        let text = "\
base: &labels
  app: web
  tier: front
metadata:
  labels: *labels
name: &n web
other: *n
";
        let doc = &parse(text)[0];
        assert_eq!(
            doc.value["metadata"]["labels"],
            json!({"app": "web", "tier": "front"})
        );
        assert_eq!(doc.value["other"], json!("web"));
        assert_eq!(doc.line_of("metadata.labels"), Some(5));
        // Fields inside an alias report where they were written.
        assert_eq!(doc.line_of("metadata.labels.tier"), Some(3));
        assert!(parse_err("a: *nope\n").line.is_some());
    }

    #[test]
    fn merge_keys_merge_with_explicit_keys_winning() {
        let text = "\
defaults: &d
  a: 1
  b: 2
more: &m
  b: 20
  c: 30
one:
  <<: *d
  b: 3
two:
  <<: [*m, *d]
";
        let doc = &parse(text)[0];
        assert_eq!(doc.value["one"], json!({"a": 1, "b": 3}));
        assert_eq!(doc.value["two"], json!({"a": 1, "b": 20, "c": 30}));
        assert_eq!(doc.line_of("one.b"), Some(9));
        assert_eq!(doc.line_of("one.a"), Some(2));
        // Quoted, `<<` is an ordinary key.
        assert_eq!(parse("'<<': x\n")[0].value, json!({"<<": "x"}));
        assert!(parse_err("a:\n  <<: 3\n").message.contains("merge key"));
    }

    #[test]
    fn alias_bombs_are_rejected() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..8 {
            let prev = i - 1;
            text.push_str(&format!(
                "a{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"
            ));
        }
        assert!(parse_err(&text).message.contains("aliases"));
    }

    #[test]
    fn deep_nesting_is_rejected() {
        let text = format!("a: {}{}\n", "[".repeat(200), "]".repeat(200));
        assert!(parse_err(&text).message.contains("nesting"));
    }

    #[test]
    fn crlf_line_endings_keep_line_numbers() {
        let doc = &parse("kind: A\r\nmetadata:\r\n  name: x\r\n---\r\nkind: B\r\n")[0];
        assert_eq!(doc.line_of("metadata.name"), Some(3));
        let docs = parse("{\r\n\"kind\": \"A\",\r\n\"x\": 1}");
        assert_eq!(docs[0].line_of("x"), Some(3));
    }

    #[test]
    fn flow_and_explicit_keys_report_their_lines() {
        let doc = &parse("metadata: {name: a,\n  namespace: b}\n? spec\n: {x: [1,\n  2]}\n")[0];
        assert_eq!(doc.line_of("metadata.namespace"), Some(2));
        assert_eq!(doc.line_of("spec"), Some(3));
        assert_eq!(doc.line_of("spec.x[1]"), Some(5));
    }

    #[test]
    fn errors_in_later_json_values_name_their_document() {
        let e = parse_err("{\"kind\": \"A\"}\n{\"kind\": \"B\"\n");
        assert_eq!(e.document, 2);
        let e = parse_err("{\"kind\": \"A\"}\n\"text\"\n");
        assert_eq!((e.document, e.line), (2, Some(2)));
    }

    #[test]
    fn byte_order_mark_is_ignored() {
        assert_eq!(parse("\u{feff}kind: A\n")[0].value, json!({"kind": "A"}));
        assert_eq!(
            parse("\u{feff}{\"kind\": \"A\"}")[0].value,
            json!({"kind": "A"})
        );
    }

    #[test]
    fn path_parser_reads_keys_indices_and_quoted_keys() {
        let key = |name: &str, dotted| Segment::Key {
            name: name.into(),
            dotted,
        };
        assert_eq!(
            parse_path("a.b[0][\"x.y\"].c[d.e/f]"),
            Some(vec![
                key("a", false),
                key("b", true),
                Segment::Index(0),
                key("x.y", false),
                key("c", true),
                key("d.e/f", false),
            ])
        );
        assert_eq!(
            parse_path("[\"q\\\"uote\"]"),
            Some(vec![key("q\"uote", false)])
        );
        assert_eq!(parse_path("a[]"), None);
        assert_eq!(parse_path(""), Some(vec![]));
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        fn scalar() -> impl Strategy<Value = Value> {
            prop_oneof![
                any::<bool>().prop_map(Value::Bool),
                any::<i64>().prop_map(Value::from),
                (-1.0e6f64..1.0e6).prop_map(Value::from),
                "[a-zA-Z0-9 .:/_-]{0,12}".prop_map(Value::String),
            ]
        }

        fn json_value() -> impl Strategy<Value = Value> {
            scalar().prop_recursive(4, 48, 6, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                    prop::collection::btree_map("[a-z.]{1,6}", inner, 0..5)
                        .prop_map(|m| Value::Object(m.into_iter().collect())),
                ]
            })
        }

        fn object() -> impl Strategy<Value = Value> {
            prop::collection::btree_map("[a-z]{1,6}", json_value(), 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect()))
        }

        proptest! {
            #[test]
            fn json_text_round_trips(value in object()) {
                let pretty = serde_json::to_string_pretty(&value).unwrap();
                let docs = parse_documents(&pretty).unwrap();
                prop_assert_eq!(docs.len(), 1);
                // Exactly what serde_json reads (its float parsing may differ in the last bit
                // from the value printed).
                prop_assert_eq!(&docs[0].value, &serde_json::from_str::<Value>(&pretty).unwrap());
            }

            #[test]
            fn json_read_as_yaml_gives_the_same_value(value in object()) {
                // A leading comment forces the YAML path; JSON is YAML 1.2.
                let text = format!("# yaml\n{}", serde_json::to_string_pretty(&value).unwrap());
                let docs = parse_documents(&text).unwrap();
                prop_assert_eq!(docs.len(), 1);
                let expected = serde_json::to_string(&value).unwrap();
                let got = serde_json::to_string(&docs[0].value).unwrap();
                // Floats may print differently only if they differ: compare as values.
                prop_assert_eq!(
                    serde_json::from_str::<Value>(&got).unwrap(),
                    serde_json::from_str::<Value>(&expected).unwrap()
                );
            }

            #[test]
            fn parsing_arbitrary_text_never_panics(text in "\\PC{0,64}") {
                let _ = parse_documents(&text);
            }
        }
    }
}
